// The D1 journal behind the operator's views. Payments answer before their journal write, which
// waits a moment so the payments after them share it (AgentLedger.journalAfterAnswer); views flush
// the ledgers first, and an evicted ledger's rows are written by its alarm.
import { env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../src/ledger/client";
import { merchantInvoice, newAgent, newOperator, ok, tool } from "./helpers";

type Paid = { payment_id: string; payment_hash: string };

/** The journal row of an entry, read straight from D1 (no flush). */
const row = (id: string) =>
  env.DB.prepare("SELECT agent_id, direction, status, amount_msat FROM transactions WHERE id = ?").bind(id).first();

describe("journal", () => {
  it("operator-wide views show every answered payment, of every agent, at once", async () => {
    const { principal: op } = await newOperator();
    const [a, b] = await Promise.all([newAgent(op), newAgent(op)]);
    const paidA = ok<Paid>(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(11) }));
    const paidB = ok<Paid>(await tool(b.principal, "pay_invoice", { invoice: await merchantInvoice(13) }));
    const history = ok<{ transactions: { id: string; status: string }[]; total_spent_sats: number }>(
      await tool(op, "get_payment_history", { direction: "out" }),
    );
    expect(history.transactions.map((t) => t.id).sort()).toEqual([paidA.payment_id, paidB.payment_id].sort());
    expect(history.total_spent_sats).toBe(24);
    const csv = ok<{ rows: number }>(await tool(op, "export_transactions", { format: "csv" }));
    // Two fundings and two payments.
    expect(csv.rows).toBe(4);
    const analytics = ok<{ spent_sats: number; payments: number }>(
      await tool(op, "get_agent_analytics", { period: "24h" }),
    );
    expect(analytics).toMatchObject({ spent_sats: 24, payments: 2 });
  });

  it("a ledger evicted before its payment's journal write still journals it, from its alarm", async () => {
    const { principal: op } = await newOperator();
    const { agentId, principal } = await newAgent(op);
    const paid = ok<Paid>(await tool(principal, "pay_invoice", { invoice: await merchantInvoice(7) }));
    const ledger = ledgerStub(env, agentId);
    // The pending write lives in the instance's memory only: eviction drops it.
    await evictDurableObject(ledger);
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    expect(await row(paid.payment_id)).toEqual({
      agent_id: agentId,
      direction: "out",
      status: "succeeded",
      amount_msat: 7000,
    });
  });
});
