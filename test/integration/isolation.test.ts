import { describe, expect, it } from "vitest";
import { TOOL_TABLE } from "../../src/mcp/tools/index";
import { codeOf, journal, merchantInvoice, newAgent, newOperator, ok, snapshot, tool } from "./helpers";

/**
 * Plausible arguments (every address is loopback: no test reaches the internet) for every tool (agent_id comes separately). A new tool without an entry
 * fails this file: tenant isolation is checked for every tool in the table, not a chosen few.
 */
async function sampleArgs(name: string, other: { agentId: string }): Promise<Record<string, unknown>> {
  const invoice = await merchantInvoice(5);
  const samples: Record<string, Record<string, unknown>> = {
    get_info: {},
    whoami: {},
    get_rate_limits: {},
    decode_invoice: { invoice },
    check_balance: {},
    create_invoice: { amount_sats: 5 },
    get_invoice_status: { payment_hash: "ab".repeat(32) },
    pay_invoice: { invoice },
    get_transactions: {},
    get_budget_status: {},
    pay_l402_api: { url: "http://127.0.0.1:9/paid", dry_run: true },
    pay_l402_challenge: { invoice, macaroon: "AgEEbHNhdAJCAAA" },
    create_l402_challenge: { resource: "thing", price_sats: 5 },
    verify_l402_payment: { token: "L402 AgEEbHNhdAJCAAA:" + "00".repeat(32) },
    keysend: { destination: "02" + "11".repeat(32), amount_sats: 5 },
    pay_lightning_address: { address: "someone@127.0.0.1", amount_sats: 5 },
    claim_lnurl_withdraw: { lnurl: "http://127.0.0.1:9/withdraw" },
    lnurl_auth: { lnurl: "http://127.0.0.1:9/auth?tag=login&k1=" + "00".repeat(32) },
    create_agent: { name: "x" },
    list_agents: {},
    fund_agent: { amount_sats: 5 },
    transfer_to_agent: { to_agent_id: other.agentId, amount_sats: 5 },
    sweep_agent: {},
    deactivate_agent: {},
    reactivate_agent: {},
    delete_agent: {},
    resolve_payment: { payment_id: "ent_" + "ab".repeat(12), outcome: "failed" },
    set_budget: { budget_limit_sats: 1 },
    configure_budget: { per_request: 1 },
    get_payment_history: {},
    get_agent_analytics: {},
    export_transactions: { format: "json" },
    rotate_api_key: {},
    get_deposit_invoice: { amount_sats: 5 },
    withdraw: { invoice },
    connect_wallet: { type: "fake" },
    configure_x402: { evm_private_key: "0x" + "11".repeat(32) },
  };
  const args = samples[name];
  if (!args) throw new Error(`add sample arguments for the new tool ${name} to isolation.test.ts`);
  return args;
}

/** Everything of an agent another tenant must not be able to change. */
async function state(agentId: string) {
  const s = await snapshot(agentId);
  return {
    s: [s.status, s.availableMsat, s.reservedMsat, s.spentMsat, s.policy],
    journal: (await journal(agentId)).length,
  };
}

describe("tenant isolation over the whole tool table", () => {
  it("operator B can neither read nor change anything of operator A's agent with any tool", async () => {
    const { principal: a } = await newOperator();
    const { principal: b } = await newOperator();
    const victim = await newAgent(a, { initial_balance_sats: 1000 });
    const victim2 = await newAgent(a, { initial_balance_sats: 1000 });
    ok(
      await tool(victim.principal, "pay_invoice", {
        invoice: await merchantInvoice(10, { description: "secret memo" }),
      }),
    );
    const before = [await state(victim.agentId), await state(victim2.agentId)];
    for (const t of TOOL_TABLE) {
      const base = await sampleArgs(t.name, victim2);
      const targeted =
        t.audience === "agent" || "agent_id" in t.input.shape ? { ...base, agent_id: victim.agentId } : base;
      const r = await tool(b, t.name, targeted);
      const text = JSON.stringify(r);
      expect(text, t.name).not.toContain("secret memo");
      if ("agent_id" in targeted) {
        expect(r.isError, `${t.name} acted on another operator's agent`).toBe(true);
        expect(["NOT_FOUND", "INVALID_INPUT"], t.name).toContain(codeOf(r));
      }
    }
    expect([await state(victim.agentId), await state(victim2.agentId)]).toEqual(before);
  }, 120_000);

  it("an agent can act only for itself: every agent tool refuses another agent's id", async () => {
    const { principal: op } = await newOperator();
    const me = await newAgent(op);
    const sibling = await newAgent(op, { initial_balance_sats: 500 });
    const before = await state(sibling.agentId);
    for (const t of TOOL_TABLE.filter((t) => t.audience !== "everyone")) {
      const r = await tool(me.principal, t.name, { ...(await sampleArgs(t.name, sibling)), agent_id: sibling.agentId });
      expect(r.isError, t.name).toBe(true);
      expect(["NOT_FOUND", "INVALID_INPUT", "FORBIDDEN"], t.name).toContain(codeOf(r));
    }
    expect(await state(sibling.agentId)).toEqual(before);
  }, 120_000);
});
