// Budget scenarios, shared by every wallet backend (test/integration/scenarios/backends.ts):
// concurrent payments racing one budget, where the ledger, the D1 journal and the wallet itself
// must agree to the sat.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../../src/ledger/client";
import { codeOf, journal, ok, snapshot, tool } from "../helpers";
import type { Backend } from "./backends";

type Paid = { status: string; amount_sats: number; total_sats: number };

/** Fires all payments at once and sorts the outcomes by code. */
async function race(agent: Parameters<typeof tool>[0], invoices: string[]) {
  const results = await Promise.all(invoices.map((invoice) => tool(agent, "pay_invoice", { invoice })));
  const codes: Record<string, number> = {};
  for (const r of results) {
    const key = r.isError ? (r.structuredContent as { code: string }).code : "OK";
    codes[key] = (codes[key] ?? 0) + 1;
  }
  return { results, codes };
}

export function budgetScenarios(b: Backend): void {
  /** The ledger, the D1 journal and the wallet must agree to the sat. */
  async function expectAgreement(operatorId: string, agentId: string, spentSats: number, walletBefore: number) {
    const s = await snapshot(agentId);
    expect(s.spentMsat).toBe(spentSats * 1000);
    expect(s.reservedMsat).toBe(0);
    const rows = await journal(agentId);
    const journaled = rows
      .filter((r) => r.direction === "out" && r.status === "succeeded")
      .reduce((sum, r) => sum + r.amount_msat + r.fee_msat, 0);
    expect(journaled).toBe(spentSats * 1000);
    expect(rows.filter((r) => r.direction === "out" && r.status !== "succeeded")).toEqual([]);
    expect(walletBefore - (await b.walletBalanceMsat(operatorId))).toBe(spentSats * 1000);
  }

  describe("concurrent payments racing one budget", () => {
    it("50 × 10 sats against a 100-sat lifetime budget: exactly 10 succeed", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { budget_limit_sats: 100 });
      const invoices = await Promise.all(Array.from({ length: 50 }, () => b.merchantInvoice(10)));
      const before = await b.walletBalanceMsat(op.operatorId);
      const { results, codes } = await race(principal, invoices);
      expect(codes).toEqual({ OK: 10, BUDGET_EXCEEDED: 40 });
      for (const r of results.filter((r) => !r.isError))
        expect(ok<Paid>(r)).toMatchObject({ status: "succeeded", total_sats: 10 });
      await expectAgreement(op.operatorId, agentId, 100, before);
      const budget = ok<{ remaining: { lifetime_sats: number } }>(await tool(principal, "get_budget_status"));
      expect(budget.remaining.lifetime_sats).toBe(0);
    });

    it("the same race against a 100-sat daily limit, which frees up 24 hours later", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { daily_limit_sats: 100 });
      const invoices = await Promise.all(Array.from({ length: 50 }, () => b.merchantInvoice(10)));
      const before = await b.walletBalanceMsat(op.operatorId);
      const { results, codes } = await race(principal, invoices);
      expect(codes).toEqual({ OK: 10, BUDGET_EXCEEDED: 40 });
      const refused = results.find((r) => r.isError)!;
      expect((refused.structuredContent as { details: { limit: string } }).details.limit).toBe("daily");
      await expectAgreement(op.operatorId, agentId, 100, before);

      // The window counts whole minutes for a full 24 h: a payment is released late, never early.
      await ledgerStub(env, agentId).skewClock(24 * 3600 * 1000 - 60_000);
      expect(
        codeOf(
          await tool(principal, "pay_invoice", {
            invoice: await b.merchantInvoice(10, { nowMs: Date.now() + 86_340_000 }),
          }),
        ),
      ).toBe("BUDGET_EXCEEDED");
      const day = 24 * 3600 * 1000 + 61_000 - (24 * 3600 * 1000 - 60_000);
      await ledgerStub(env, agentId).skewClock(day);
      ok(
        await tool(principal, "pay_invoice", {
          invoice: await b.merchantInvoice(10, { nowMs: Date.now() + 86_461_000 }),
        }),
      );
    });

    it("a per-payment limit refuses every larger payment, whatever the order", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { max_per_payment_sats: 10 });
      const invoices = await Promise.all(Array.from({ length: 50 }, (_, i) => b.merchantInvoice(i % 2 ? 10 : 11)));
      const before = await b.walletBalanceMsat(op.operatorId);
      const { codes } = await race(principal, invoices);
      expect(codes).toEqual({ OK: 25, AMOUNT_TOO_LARGE: 25 });
      await expectAgreement(op.operatorId, agentId, 250, before);
    });

    it("the agent's balance is a limit too: 50 × 10 sats from a 100-sat balance", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { initial_balance_sats: 100 });
      const invoices = await Promise.all(Array.from({ length: 50 }, () => b.merchantInvoice(10)));
      const before = await b.walletBalanceMsat(op.operatorId);
      const { codes } = await race(principal, invoices);
      expect(codes).toEqual({ OK: 10, INSUFFICIENT_BALANCE: 40 });
      await expectAgreement(op.operatorId, agentId, 100, before);
      expect(ok<{ balance_sats: number }>(await tool(principal, "check_balance")).balance_sats).toBe(0);
    });

    it("a per-session limit counts each session separately", async () => {
      const { principal: op } = await b.newOperator();
      const { principal } = await b.newAgent(op);
      ok(await tool(op, "configure_budget", { agent_id: (principal as { agentId: string }).agentId, per_session: 25 }));
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(20) }, "session-1"));
      expect(codeOf(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(10) }, "session-1"))).toBe(
        "BUDGET_EXCEEDED",
      );
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(10) }, "session-2"));
    });

    it("an OAuth connection's cap applies across its sessions, on top of the agent's limits", async () => {
      const { principal: op } = await b.newOperator();
      const { principal } = await b.newAgent(op);
      const agentId = (principal as { agentId: string }).agentId;
      const grant = {
        kind: "agent",
        operatorId: op.operatorId,
        agentId,
        keyId: "grant:g1",
        via: "oauth",
        connectionCapSats: 30,
      } as const;
      const first = ok<{ budget_remaining_sats: number }>(
        await tool(grant, "pay_invoice", { invoice: await b.merchantInvoice(20) }, "key:grant:g1"),
      );
      expect(first.budget_remaining_sats).toBe(10);
      expect(codeOf(await tool(grant, "pay_invoice", { invoice: await b.merchantInvoice(20) }, "key:grant:g1"))).toBe(
        "BUDGET_EXCEEDED",
      );
      // get_budget_status shows that connection the limit it pays under, and what is left of it.
      const seen = ok<{
        limits: { per_session_limit_sats: number | null };
        remaining: { session_sats: number | null };
      }>(await tool(grant, "get_budget_status", {}, "key:grant:g1"));
      expect(seen.limits.per_session_limit_sats).toBe(30);
      expect(seen.remaining.session_sats).toBe(10);
      // The agent's own key is another connection, not bound by that grant's cap.
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(20) }));
      expect(
        ok<{ limits: { per_session_limit_sats: number | null } }>(await tool(principal, "get_budget_status")).limits,
      ).toMatchObject({ per_session_limit_sats: null });
    });

    it("set_budget takes effect on the next payment", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op);
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(50) }));
      ok(await tool(op, "set_budget", { agent_id: agentId, max_per_payment_sats: 40 }));
      expect(codeOf(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(50) }))).toBe(
        "AMOUNT_TOO_LARGE",
      );
      ok(await tool(op, "set_budget", { agent_id: agentId, max_per_payment_sats: null }));
      ok(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(50) }));
    });
  });
}
