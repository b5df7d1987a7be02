// Idempotency scenarios, shared by every wallet backend (test/integration/scenarios/backends.ts):
// the same invoice is paid once, whatever the keys, the concurrency or the number of agents.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { codeOf, journal, ok, snapshot, tool } from "../helpers";
import { deskStub } from "../../../src/wallet/factory";
import type { Backend } from "./backends";

type Paid = { payment_id: string; replayed: boolean; preimage: string; total_sats: number };

export function idempotencyScenarios(b: Backend): void {
  describe("the same invoice is paid once", () => {
    it("same idempotency key: the second call returns the first payment", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op);
      const invoice = await b.merchantInvoice(21);
      const before = await b.walletBalanceMsat(op.operatorId);
      const first = ok<Paid>(await tool(principal, "pay_invoice", { invoice, idempotency_key: "order-1" }));
      const second = ok<Paid>(await tool(principal, "pay_invoice", { invoice, idempotency_key: "order-1" }));
      expect(second).toMatchObject({ payment_id: first.payment_id, preimage: first.preimage, replayed: true });
      expect(first.replayed).toBe(false);
      expect(before - (await b.walletBalanceMsat(op.operatorId))).toBe(21_000);
      expect((await snapshot(agentId)).spentMsat).toBe(21_000);
    });

    it("different key or no key: ALREADY_PAID with the first payment's proof, no second debit", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op);
      const invoice = await b.merchantInvoice(21);
      const first = ok<Paid>(await tool(principal, "pay_invoice", { invoice, idempotency_key: "a" }));
      const again = await tool(principal, "pay_invoice", { invoice, idempotency_key: "b" });
      expect(codeOf(again)).toBe("ALREADY_PAID");
      expect((again.structuredContent as { details: { preimage: string } }).details.preimage).toBe(first.preimage);
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("ALREADY_PAID");
      expect((await snapshot(agentId)).spentMsat).toBe(21_000);
      expect((await journal(agentId)).filter((r) => r.direction === "out")).toHaveLength(1);
    });

    it("an idempotency key reused for another invoice is refused", async () => {
      const { principal: op } = await b.newOperator();
      const { principal } = await b.newAgent(op);
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(5), idempotency_key: "k" }));
      const r = await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(6), idempotency_key: "k" });
      expect(codeOf(r)).toBe("INVALID_INPUT");
    });

    it("ten concurrent attempts at one invoice: one payment, one debit", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op);
      const invoice = await b.merchantInvoice(30);
      const before = await b.walletBalanceMsat(op.operatorId);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => tool(principal, "pay_invoice", { invoice, idempotency_key: `k${i % 3}` })),
      );
      const succeeded = results.filter((r) => !r.isError).map((r) => ok<Paid>(r));
      expect(new Set(succeeded.map((p) => p.payment_id)).size).toBe(1);
      for (const r of results.filter((r) => r.isError)) {
        expect(["ALREADY_PAID", "PAYMENT_PENDING"]).toContain(codeOf(r));
      }
      expect(before - (await b.walletBalanceMsat(op.operatorId))).toBe(30_000);
      expect((await snapshot(agentId)).spentMsat).toBe(30_000);
    });

    it("two agents of one operator racing for one external invoice: the wallet pays once, one agent is charged", async () => {
      const { principal: op } = await b.newOperator();
      const agents = await Promise.all(Array.from({ length: 5 }, () => b.newAgent(op)));
      const invoice = await b.merchantInvoice(40);
      const before = await b.walletBalanceMsat(op.operatorId);
      const results = await Promise.all(agents.map((a) => tool(a.principal, "pay_invoice", { invoice })));
      expect(results.filter((r) => !r.isError)).toHaveLength(1);
      for (const r of results.filter((r) => r.isError)) expect(codeOf(r)).toBe("ALREADY_PAID");
      expect(before - (await b.walletBalanceMsat(op.operatorId))).toBe(40_000);
      const spent = await Promise.all(agents.map(async (a) => (await snapshot(a.agentId)).spentMsat));
      expect(spent.reduce((x, y) => x + y, 0)).toBe(40_000);
    });

    it("a wallet connection that cannot be read pays nothing and leaves the invoice to the other agents", async () => {
      const { principal: op } = await b.newOperator();
      const [first, second] = await Promise.all([b.newAgent(op), b.newAgent(op)]);
      const invoice = await b.merchantInvoice(9);
      const before = await b.walletBalanceMsat(op.operatorId);
      const row = env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?").bind(
        op.operatorId,
      );
      const stored = (await row.first<{ wallet_type: string; wallet_secret_enc: string | null }>())!;
      // Written straight to D1, as a key rotation would leave it; the desk is told like connectWallet tells it.
      const store = async (type: string, sealed: string | null) => {
        await env.DB.prepare("UPDATE operators SET wallet_type = ?, wallet_secret_enc = ? WHERE id = ?")
          .bind(type, sealed, op.operatorId)
          .run();
        await deskStub(env, op.operatorId).walletChanged();
      };
      // A sealed secret that no longer opens (a rotated WALLET_SECRET_KEY looks the same).
      await store("lnbits", "not-a-sealed-secret");
      const refused = await tool(first.principal, "pay_invoice", { invoice });
      expect(refused.isError).toBe(true);
      expect(codeOf(refused)).not.toBe("PAYMENT_PENDING");
      expect(await snapshot(first.agentId)).toMatchObject({ reservedMsat: 0, spentMsat: 0 });
      await store(stored.wallet_type, stored.wallet_secret_enc);
      ok(await tool(second.principal, "pay_invoice", { invoice }));
      expect(before - (await b.walletBalanceMsat(op.operatorId))).toBe(9_000);
    });

    it("a failed payment may be retried, and only the retry is spent", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op);
      const invoice = await b.merchantInvoice(12);
      await b.setMode(op.operatorId, "fail");
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_FAILED");
      expect((await snapshot(agentId)).reservedMsat).toBe(0);
      await b.setMode(op.operatorId, "normal");
      ok(await tool(principal, "pay_invoice", { invoice }));
      expect((await snapshot(agentId)).spentMsat).toBe(12_000);
    });
  });
}
