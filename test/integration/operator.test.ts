import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeInvoice } from "../../src/lightning/bolt11";
import { ledgerStub } from "../../src/ledger/client";
import {
  codeOf,
  fakeNetwork,
  merchantInvoice,
  newAgent,
  newOperator,
  nodeOf,
  ok,
  setMode,
  snapshot,
  START_MSAT,
  tool,
  walletBalanceMsat,
} from "./helpers";

const now = () => Math.floor(Date.now() / 1000);

describe("operator tools move allocations, never more than the wallet holds", () => {
  it("a payment refused by an agent's limits leaves the invoice free for the operator's other agents", async () => {
    const { principal: op } = await newOperator();
    const poor = await newAgent(op, { initial_balance_sats: 0 });
    const capped = await newAgent(op, { max_per_payment_sats: 5 });
    const rich = await newAgent(op, { initial_balance_sats: 100 });
    const invoice = await merchantInvoice(40);
    expect(codeOf(await tool(poor.principal, "pay_invoice", { invoice }))).toBe("INSUFFICIENT_BALANCE");
    expect(codeOf(await tool(capped.principal, "pay_invoice", { invoice }))).toBe("AMOUNT_TOO_LARGE");
    ok(await tool(rich.principal, "pay_invoice", { invoice }));
  });

  it("a transfer is journaled on both sides, and history totals count only payments, over every page", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 1000 });
    const b = await newAgent(op, { initial_balance_sats: 0 });
    ok(await tool(op, "transfer_to_agent", { from_agent_id: a.agentId, to_agent_id: b.agentId, amount_sats: 300 }));
    ok(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(100) }));
    ok(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(50) }));
    ok(await tool(op, "sweep_agent", { agent_id: a.agentId, amount_sats: 10 }));
    const page = ok<{ transactions: { agent_id: string; kind: string }[]; total_spent_sats: number }>(
      await tool(op, "get_payment_history", { limit: 1 }),
    );
    expect(page.transactions).toHaveLength(1);
    expect(page.total_spent_sats).toBe(150);
    const all = ok<{ transactions: { agent_id: string; kind: string }[] }>(await tool(op, "get_payment_history"));
    const transfers = all.transactions.filter((t) => t.kind === "transfer").map((t) => t.agent_id);
    expect(transfers.sort()).toEqual([a.agentId, b.agentId].sort());
  });

  it("fund, transfer, sweep: balances add up and whoami tracks allocation", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 1000 });
    const b = await newAgent(op, { initial_balance_sats: 0 });
    ok(await tool(op, "transfer_to_agent", { from_agent_id: a.agentId, to_agent_id: b.agentId, amount_sats: 300 }));
    expect((await snapshot(a.agentId)).availableMsat).toBe(700_000);
    expect((await snapshot(b.agentId)).availableMsat).toBe(300_000);
    expect(
      codeOf(
        await tool(op, "transfer_to_agent", { from_agent_id: b.agentId, to_agent_id: a.agentId, amount_sats: 301 }),
      ),
    ).toBe("INSUFFICIENT_BALANCE");
    const swept = ok<{ swept_sats: number }>(await tool(op, "sweep_agent", { agent_id: a.agentId }));
    expect(swept.swept_sats).toBe(700);
    const who = ok<{
      allocated_sats: number;
      unallocated_sats: number;
      agent_count: number;
      wallet_balance_sats: number;
    }>(await tool(op, "whoami"));
    expect(who).toMatchObject({ allocated_sats: 300, agent_count: 2, wallet_balance_sats: START_MSAT / 1000 });
    expect(who.unallocated_sats).toBe(START_MSAT / 1000 - 300);
    expect(codeOf(await tool(op, "fund_agent", { agent_id: a.agentId, amount_sats: START_MSAT / 1000 }))).toBe(
      "INSUFFICIENT_BALANCE",
    );
  });

  it("deactivate is a kill switch; reactivate restores; payments in flight still settle", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 100 });
    const inFlight = await merchantInvoice(30);
    await setMode(op.operatorId, "timeout");
    expect(codeOf(await tool(a.principal, "pay_invoice", { invoice: inFlight }))).toBe("PAYMENT_PENDING");
    ok(await tool(op, "deactivate_agent", { agent_id: a.agentId }));
    await setMode(op.operatorId, "normal");
    expect(codeOf(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(1) }))).toBe(
      "AGENT_DISABLED",
    );
    await fakeNetwork().resolvePending(nodeOf(op.operatorId), decodeInvoice(inFlight).paymentHash, "succeeded", now());
    await ledgerStub(env, a.agentId).reconcile();
    expect((await snapshot(a.agentId)).spentMsat).toBe(30_000);
    ok(await tool(op, "reactivate_agent", { agent_id: a.agentId }));
    ok(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(1) }));
  });

  it("delete returns the balance now and what an in-flight payment releases later", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 100 });
    const inFlight = await merchantInvoice(40);
    await setMode(op.operatorId, "timeout");
    expect(codeOf(await tool(a.principal, "pay_invoice", { invoice: inFlight }))).toBe("PAYMENT_PENDING");
    const del = ok<{ returned_sats: number; still_reserved_sats: number }>(
      await tool(op, "delete_agent", { agent_id: a.agentId }),
    );
    expect(del).toEqual({ agent_id: a.agentId, returned_sats: 60, still_reserved_sats: 40 });
    expect(codeOf(await tool(op, "fund_agent", { agent_id: a.agentId, amount_sats: 1 }))).toBe("NOT_FOUND");
    await fakeNetwork().resolvePending(nodeOf(op.operatorId), decodeInvoice(inFlight).paymentHash, "failed", now());
    await ledgerStub(env, a.agentId).reconcile();
    const s = await snapshot(a.agentId);
    expect([s.availableMsat, s.reservedMsat, s.spentMsat]).toEqual([0, 0, 0]);
    const who = ok<{ allocated_sats: number }>(await tool(op, "whoami"));
    expect(who.allocated_sats).toBe(0);
  });

  it("analytics and export agree with the payments made", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 1000 });
    const payee = await newAgent(op, { initial_balance_sats: 0 });
    ok(
      await tool(a.principal, "pay_invoice", {
        invoice: await merchantInvoice(100, { description: '=HYPERLINK("x")' }),
      }),
    );
    const inv = ok<{ invoice: string }>(await tool(payee.principal, "create_invoice", { amount_sats: 50 }));
    ok(await tool(a.principal, "pay_invoice", { invoice: inv.invoice }));
    await setMode(op.operatorId, "fail");
    codeOf(await tool(a.principal, "pay_invoice", { invoice: await merchantInvoice(7) }));
    const stats = ok<{ spent_sats: number; received_sats: number; payments: number; failed_payments: number }>(
      await tool(op, "get_agent_analytics", { period: "24h" }),
    );
    expect(stats).toMatchObject({ spent_sats: 150, received_sats: 50, payments: 2, failed_payments: 1 });
    const csv = ok<{ content: string; rows: number }>(await tool(op, "export_transactions", { format: "csv" }));
    expect(csv.content.split("\r\n")[0]).toContain("amount_msat");
    expect(csv.content).toContain(`"'=HYPERLINK(""x"")"`);
    const json = ok<{ content: string }>(
      await tool(op, "export_transactions", { format: "json", agent_id: a.agentId }),
    );
    expect((JSON.parse(json.content) as unknown[]).length).toBe(4);
  });

  it("rotate_api_key replaces an agent key; withdraw pays from unallocated sats only", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op, { initial_balance_sats: 1000 });
    const rotated = ok<{ api_key: string }>(await tool(op, "rotate_api_key", { agent_id: a.agentId }));
    const { authenticate } = await import("../../src/auth/authenticate");
    expect(await authenticate(env, `Bearer ${a.apiKey}`)).toBeNull();
    expect((await authenticate(env, `Bearer ${rotated.api_key}`))?.kind).toBe("agent");

    const before = await walletBalanceMsat(op.operatorId);
    const paid = ok<{ total_sats: number }>(await tool(op, "withdraw", { invoice: await merchantInvoice(500) }));
    expect(paid.total_sats).toBe(500);
    expect(before - (await walletBalanceMsat(op.operatorId))).toBe(500_000);
    const tooMuch = await merchantInvoice(START_MSAT / 1000 - 1000);
    expect(codeOf(await tool(op, "withdraw", { invoice: tooMuch }))).toBe("INSUFFICIENT_BALANCE");
    expect((await snapshot(a.agentId)).availableMsat).toBe(1_000_000);
  });

  it("a deposit invoice tops up the wallet", async () => {
    const a = await newOperator();
    const b = await newOperator();
    const payer = await newAgent(b.principal, { initial_balance_sats: 1000 });
    const dep = ok<{ invoice: string }>(await tool(a.principal, "get_deposit_invoice", { amount_sats: 250 }));
    const before = await walletBalanceMsat(a.principal.operatorId);
    ok(await tool(payer.principal, "pay_invoice", { invoice: dep.invoice }));
    expect((await walletBalanceMsat(a.principal.operatorId)) - before).toBe(250_000);
  });
});
