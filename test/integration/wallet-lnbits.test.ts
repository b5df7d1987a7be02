// LNbits payments whose outcome is unknown, in the Workers runtime against the wallet lab's LNbits
// API on loopback: LNbits answering "pending", and an older LNbits answering a failure with a 5xx.
// The agent hears PAYMENT_PENDING with the sats held; the ledger's alarm then looks the payment up by
// hash (GET /api/v1/payments/{hash}) and settles or releases it, never paying twice.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../src/ledger/client";
import { decodeInvoice } from "../../src/lightning/bolt11";
import { paymentHashOf } from "../../src/lightning/preimage";
import { codeOf, newAgent, newOperator, ok, snapshot, tool } from "./helpers";
import { lab } from "./scenarios/backends";

async function setup(shape: "current" | "old") {
  const { principal: op } = await newOperator();
  const w = await lab<{ id: string; url: string; admin_key: string }>("lnbits_wallet", { shape, startSats: 100_000 });
  ok(await tool(op, "connect_wallet", { type: "lnbits", url: w.url, api_key: w.admin_key }));
  const agent = await newAgent(op, { initial_balance_sats: 1000 });
  return { w, agent, ledger: ledgerStub(env, agent.agentId) };
}

const balance = async (node: string) => (await lab<{ balance_msat: number }>("node", { node })).balance_msat;
const attempts = async (hash: string) => (await lab<{ attempts: number }>("attempts", { payment_hash: hash })).attempts;
const merchantInvoice = async (sats: number) =>
  (await lab<{ invoice: string }>("invoice", { amount_sats: sats })).invoice;

describe("LNbits: reconciling payments whose outcome was unknown", () => {
  it("LNbits says pending: held, then settled by the alarm once it succeeded, paid once", async () => {
    const { w, agent, ledger } = await setup("current");
    const invoice = await merchantInvoice(60);
    const hash = decodeInvoice(invoice).paymentHash;
    const before = await balance(w.id);
    await lab("mode", { node: w.id, mode: "pending" });
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "p-1" }))).toBe(
      "PAYMENT_PENDING",
    );
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(60_000);
    await runDurableObjectAlarm(ledger);
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(60_000);

    await lab("resolve", { node: w.id, payment_hash: hash, result: "succeeded" });
    await runDurableObjectAlarm(ledger);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 60_000]);
    const replay = ok<{ replayed: boolean; preimage: string }>(
      await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "p-1" }),
    );
    expect(replay.replayed).toBe(true);
    expect(paymentHashOf(replay.preimage)).toBe(hash);
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("ALREADY_PAID");
    expect(await attempts(hash)).toBe(1);
    expect(before - (await balance(w.id))).toBe(60_000);
  });

  it("an older LNbits answers a failure with 520: pending, then released when the lookup says failed", async () => {
    const { w, agent, ledger } = await setup("old");
    const invoice = await merchantInvoice(70);
    const before = await balance(w.id);
    await lab("mode", { node: w.id, mode: "fail" });
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(70_000);
    await runDurableObjectAlarm(ledger);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat, s.availableMsat]).toEqual([0, 0, 1_000_000]);
    expect(await balance(w.id)).toBe(before);
  });
});
