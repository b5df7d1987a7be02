// Crash scenarios, shared by every wallet backend (test/integration/scenarios/backends.ts): a payment
// whose outcome is unknown keeps its reservation until the ledger's alarm reconciles it with the
// wallet — across an evicted ledger, an aborted one, a hung wallet and a lying one — and
// agent-to-agent payments settle inside the deployment.
import {
  abortAllDurableObjects,
  env,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../../src/ledger/client";
import { decodeInvoice } from "../../../src/lightning/bolt11";
import { paymentHashOf } from "../../../src/lightning/preimage";
import { codeOf, journal, ok, snapshot, tool } from "../helpers";
import type { Backend } from "./backends";

/**
 * A new agent (100 sats) paying a `sats` invoice to a wallet set to hang: resolves once the wallet
 * holds the payment (waiting on events, not time), with the tool call still in flight.
 */
export async function hungPayment(b: Backend, sats: number) {
  const { principal: op } = await b.newOperator();
  const { agentId, principal } = await b.newAgent(op, { initial_balance_sats: 100 });
  const invoice = await b.merchantInvoice(sats);
  const hash = decodeInvoice(invoice).paymentHash;
  await b.setMode(op.operatorId, "hang");
  const inFlight = tool(principal, "pay_invoice", { invoice });
  await b.waitUntilHeld(op.operatorId, hash);
  return { op, agentId, principal, invoice, hash, inFlight };
}

export function crashScenarios(b: Backend): void {
  describe("a payment whose outcome is unknown keeps its reservation until reconciled", () => {
    it("wallet times out, the ledger is evicted, the payment later succeeds: settled once, preimage verified", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { initial_balance_sats: 100 });
      const invoice = await b.merchantInvoice(40);
      await b.setMode(op.operatorId, "timeout");
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
      expect((await snapshot(agentId)).reservedMsat).toBe(40_000);
      // Held sats cannot be spent twice meanwhile.
      expect(codeOf(await tool(principal, "pay_invoice", { invoice: await b.merchantInvoice(70) }))).toBe(
        "INSUFFICIENT_BALANCE",
      );
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");

      const ledger = ledgerStub(env, agentId);
      await evictDurableObject(ledger);
      expect((await snapshot(agentId)).reservedMsat).toBe(40_000);

      // Reconciling while the wallet still does not know changes nothing.
      expect(await runDurableObjectAlarm(ledger)).toBe(true);
      expect((await snapshot(agentId)).reservedMsat).toBe(40_000);

      const hash = decodeInvoice(invoice).paymentHash;
      await b.resolvePending(op.operatorId, hash, "succeeded");
      expect(await runDurableObjectAlarm(ledger)).toBe(true);
      const s = await snapshot(agentId);
      expect(s.reservedMsat).toBe(0);
      expect(s.spentMsat).toBe(40_000);
      const [tx] = (await tool(principal, "get_transactions", { direction: "out" })).structuredContent!
        .transactions as {
        status: string;
        payment_hash: string;
      }[];
      expect(tx).toMatchObject({ status: "succeeded", payment_hash: hash });
      expect((await journal(agentId)).find((r) => r.direction === "out")?.status).toBe("succeeded");
    });

    it("the payment later fails: the reservation is released and nothing is spent", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { initial_balance_sats: 100 });
      const invoice = await b.merchantInvoice(40);
      const before = await b.walletBalanceMsat(op.operatorId);
      await b.setMode(op.operatorId, "timeout");
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
      const ledger = ledgerStub(env, agentId);
      await evictDurableObject(ledger);
      await b.resolvePending(op.operatorId, decodeInvoice(invoice).paymentHash, "failed");
      await runDurableObjectAlarm(ledger);
      const s = await snapshot(agentId);
      expect([s.reservedMsat, s.spentMsat, s.availableMsat]).toEqual([0, 0, 100_000]);
      expect(await b.walletBalanceMsat(op.operatorId)).toBe(before);
    });

    it("the ledger is torn down while the wallet hangs: the caller hears PAYMENT_PENDING, and the alarm settles it", async () => {
      const { op, agentId, principal, invoice, hash, inFlight } = await hungPayment(b, 25);
      expect((await snapshot(agentId)).reservedMsat).toBe(25_000);

      // Eviction would wait for the hung request to drain; aborting is the harder crash: every instance dies mid-call.
      await abortAllDurableObjects().catch(() => undefined);
      expect(codeOf(await inFlight)).toBe("PAYMENT_PENDING");
      const ledger = ledgerStub(env, agentId);
      expect((await snapshot(agentId)).reservedMsat).toBe(25_000);

      await runDurableObjectAlarm(ledger); // wallet still says pending
      expect((await snapshot(agentId)).reservedMsat).toBe(25_000);
      // Stubs made before the abort are dead; the wallet's state survived.
      await b.resolvePending(op.operatorId, hash, "succeeded");
      await runDurableObjectAlarm(ledger);
      const s = await snapshot(agentId);
      expect([s.reservedMsat, s.spentMsat]).toEqual([0, 25_000]);
      // And it is never paid a second time.
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("ALREADY_PAID");
    });

    it("a wallet that never saw the payment: released only after the invoice has expired", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId } = await b.newAgent(op, { initial_balance_sats: 100 });
      const invoice = await b.merchantInvoice(10);
      const ledger = ledgerStub(env, agentId);
      // Simulate a crash after the reservation was written but before the wallet was called.
      await runInDurableObject(ledger, (instance) => {
        const reserve = (instance as unknown as { reserve: (p: object) => unknown }).reserve.bind(instance);
        reserve({
          req: {},
          paymentHash: decodeInvoice(invoice).paymentHash,
          invoice,
          description: null,
          expiresAt: decodeInvoice(invoice).expiresAt,
          amountMsat: 10_000,
          feeLimitMsat: 0,
          payee: null,
        });
      });
      await evictDurableObject(ledger);
      await runDurableObjectAlarm(ledger);
      expect((await snapshot(agentId)).reservedMsat).toBe(10_000);
      await ledger.skewClock(3600_000 + 601_000);
      await runDurableObjectAlarm(ledger);
      const s = await snapshot(agentId);
      expect([s.reservedMsat, s.spentMsat]).toEqual([0, 0]);
    });

    it("a wallet that claims success with a wrong preimage: sats stay held, never paid again", async () => {
      const { principal: op } = await b.newOperator();
      const { agentId, principal } = await b.newAgent(op, { initial_balance_sats: 100 });
      const invoice = await b.merchantInvoice(10);
      await b.setMode(op.operatorId, "bad_preimage");
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PREIMAGE_MISMATCH");
      expect((await snapshot(agentId)).reservedMsat).toBe(10_000);
      expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    });
  });

  describe("agent-to-agent payments settle inside the deployment", () => {
    it("payer down, payee up, real preimage, ledgers and journal agree, wallet untouched", async () => {
      const { principal: op } = await b.newOperator();
      const payee = await b.newAgent(op, { initial_balance_sats: 0 });
      const payer = await b.newAgent(op, { initial_balance_sats: 500 });
      const before = await b.walletBalanceMsat(op.operatorId);
      const inv = ok<{ invoice: string; payment_hash: string }>(
        await tool(payee.principal, "create_invoice", { amount_sats: 120, description: "data" }),
      );
      const paid = ok<{ preimage: string | null; internal: boolean; fee_sats: number; total_sats: number }>(
        await tool(payer.principal, "pay_invoice", { invoice: inv.invoice }),
      );
      expect(paid).toMatchObject({ internal: true, fee_sats: 0, total_sats: 120 });
      if (b.knowsInvoicePreimages) {
        expect(paymentHashOf(paid.preimage!)).toBe(inv.payment_hash);
      } else {
        // The operator's real wallet chose the preimage and keeps it: an internal settlement has no proof to hand over.
        expect(paid.preimage).toBeNull();
      }
      const status = ok<{ paid: boolean; preimage: string | null }>(
        await tool(payee.principal, "get_invoice_status", { payment_hash: inv.payment_hash }),
      );
      expect(status).toMatchObject({ paid: true, preimage: paid.preimage });
      expect((await snapshot(payer.agentId)).availableMsat).toBe(380_000);
      expect((await snapshot(payee.agentId)).availableMsat).toBe(120_000);
      expect(await b.walletBalanceMsat(op.operatorId)).toBe(before);
      const [out] = (await journal(payer.agentId)).filter((r) => r.direction === "out");
      const [inc] = (await journal(payee.agentId)).filter((r) => r.kind === "internal");
      expect([out?.status, out?.amount_msat, inc?.status, inc?.amount_msat]).toEqual([
        "succeeded",
        120_000,
        "succeeded",
        120_000,
      ]);
      expect(codeOf(await tool(payer.principal, "pay_invoice", { invoice: inv.invoice }))).toBe("ALREADY_PAID");
    });

    it("an invoice of another operator's agent is paid over the wallet, and its agent is credited on lookup", async () => {
      const a = await b.newOperator();
      const c = await b.newOperator();
      const payee = await b.newAgent(c.principal, { initial_balance_sats: 0 });
      const payer = await b.newAgent(a.principal, { initial_balance_sats: 500 });
      const inv = ok<{ invoice: string; payment_hash: string }>(
        await tool(payee.principal, "create_invoice", { amount_sats: 50 }),
      );
      const paid = ok<{ internal: boolean }>(await tool(payer.principal, "pay_invoice", { invoice: inv.invoice }));
      expect(paid.internal).toBe(false);
      ok(await tool(payee.principal, "get_invoice_status", { payment_hash: inv.payment_hash }));
      expect((await snapshot(payee.agentId)).availableMsat).toBe(50_000);
    });
  });
}
