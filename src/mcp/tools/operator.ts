import { z } from "zod";
import * as agents from "../../accounts/agents";
import * as ops from "../../accounts/operator";
import { SatchelError } from "../../errors";
import type { BudgetPolicy } from "../../ledger/policy";
import { budgetOut, entryOut, journalOut, paymentOut, policyOut, toSatsFloor } from "../format";
import {
  AgentId,
  Description,
  Host,
  LimitSats,
  Page,
  PayInvoiceInput,
  payInvoiceRequest,
  PaymentOutput,
  Preimage,
  Sats,
  TransactionOutput,
} from "../schemas";
import { defineTool, type ToolContext } from "../tool";
import { BudgetOutput } from "./agent";

const LimitsInput = {
  max_per_payment_sats: LimitSats.nullable().optional().describe("Largest single payment; null removes the limit"),
  daily_limit_sats: LimitSats.nullable().optional().describe("Most spent in any rolling 24 hours"),
  budget_limit_sats: LimitSats.nullable().optional().describe("Most spent over the agent's life"),
  per_session_limit_sats: LimitSats.nullable().optional().describe("Most spent in one session (connection)"),
  allowed_hosts: z
    .array(Host)
    .max(100)
    .nullable()
    .optional()
    .describe("Hosts paid APIs may be reached on; null allows all"),
};

type LimitsArgs = { [K in keyof typeof LimitsInput]?: z.output<(typeof LimitsInput)[K]> };

const toMsat = (v: number | null | undefined) => (v === undefined ? undefined : v === null ? null : v * 1000);

function policyPatch(a: LimitsArgs): Partial<BudgetPolicy> {
  return {
    maxPerPaymentMsat: toMsat(a.max_per_payment_sats),
    dailyLimitMsat: toMsat(a.daily_limit_sats),
    budgetLimitMsat: toMsat(a.budget_limit_sats),
    perSessionLimitMsat: toMsat(a.per_session_limit_sats),
    allowedHosts:
      a.allowed_hosts === undefined
        ? undefined
        : a.allowed_hosts === null
          ? null
          : a.allowed_hosts.map((h) => h.toLowerCase()),
  };
}

const operatorId = (ctx: ToolContext) => ctx.principal.operatorId;

const LimitsOutput = z.object({
  max_per_payment_sats: z.number().nullable(),
  daily_limit_sats: z.number().nullable(),
  budget_limit_sats: z.number().nullable(),
  per_session_limit_sats: z.number().nullable(),
  allowed_hosts: z.array(z.string()).nullable(),
});

const createAgent = defineTool({
  name: "create_agent",
  description:
    "Creates an agent with its own balance and limits. Returns its api_key ONCE: give it to the agent's MCP client. Fund it with fund_agent or initial_balance_sats.",
  audience: "operator",
  input: z.strictObject({
    name: z.string().trim().min(1).max(100),
    ...LimitsInput,
    initial_balance_sats: LimitSats.default(0),
  }),
  output: z.object({
    agent_id: z.string(),
    name: z.string(),
    api_key: z.string(),
    balance_sats: z.number(),
    limits: LimitsOutput,
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const patch = policyPatch(a);
    const created = await agents.createAgent(ctx.env, operatorId(ctx), {
      name: a.name,
      policy: {
        maxPerPaymentMsat: patch.maxPerPaymentMsat ?? null,
        dailyLimitMsat: patch.dailyLimitMsat ?? null,
        budgetLimitMsat: patch.budgetLimitMsat ?? null,
        perSessionLimitMsat: patch.perSessionLimitMsat ?? null,
        allowedHosts: patch.allowedHosts ?? null,
      },
    });
    const snapshot =
      a.initial_balance_sats > 0
        ? await ops.fundAgent(ctx.env, operatorId(ctx), created.agentId, a.initial_balance_sats * 1000)
        : created.snapshot;
    return {
      agent_id: created.agentId,
      name: a.name,
      api_key: created.apiKey,
      balance_sats: toSatsFloor(snapshot.availableMsat),
      limits: policyOut(snapshot.policy),
    };
  },
});

const listAgents = defineTool({
  name: "list_agents",
  description: "Your agents with status, balance, spending and limits.",
  audience: "operator",
  input: z.strictObject({ ...Page }),
  output: z.object({ agents: z.array(BudgetOutput.extend({ name: z.string(), created_at: z.string() })) }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const rows = await agents.listAgents(ctx.env, operatorId(ctx), a);
    return {
      agents: rows.map(({ record, snapshot }) => ({
        ...budgetOut(snapshot),
        name: record.name,
        created_at: new Date(record.created_at).toISOString(),
      })),
    };
  },
});

const fundAgent = defineTool({
  name: "fund_agent",
  description:
    "Adds sats to an agent's balance. The sats stay in your wallet; the agent may spend them within its limits.",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId, amount_sats: Sats }),
  output: z.object({ agent_id: z.string(), funded_sats: z.number(), balance_sats: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const s = await ops.fundAgent(ctx.env, operatorId(ctx), a.agent_id, a.amount_sats * 1000);
    return { agent_id: a.agent_id, funded_sats: a.amount_sats, balance_sats: toSatsFloor(s.availableMsat) };
  },
});

const setBudget = defineTool({
  name: "set_budget",
  description:
    "Sets an agent's limits. Omitted fields keep their value; null removes a limit. Takes effect for the agent's next payment.",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId, ...LimitsInput }),
  output: BudgetOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const id = await agents.resolveAgent(ctx.env, ctx.principal, a.agent_id);
    return budgetOut(await agents.setBudget(ctx.env, id, policyPatch(a)));
  },
});

const configureBudget = defineTool({
  name: "configure_budget",
  description:
    "Lightning Enable style limits: per_request (max sats per payment) and per_session (max sats per session).",
  audience: "operator",
  input: z.strictObject({
    agent_id: AgentId,
    per_request: LimitSats.nullable().optional(),
    per_session: LimitSats.nullable().optional(),
  }),
  output: BudgetOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    if (a.per_request === undefined && a.per_session === undefined) {
      throw new SatchelError("INVALID_INPUT", "Nothing to configure.", {
        hint: "Pass per_request and/or per_session.",
      });
    }
    const id = await agents.resolveAgent(ctx.env, ctx.principal, a.agent_id);
    const patch = policyPatch({ max_per_payment_sats: a.per_request, per_session_limit_sats: a.per_session });
    return budgetOut(await agents.setBudget(ctx.env, id, patch));
  },
});

const paymentHistory = defineTool({
  name: "get_payment_history",
  description:
    "Transactions across all your agents (or one), newest first, with optional status, direction and date range.",
  audience: "operator",
  input: z.strictObject({
    agent_id: AgentId.optional(),
    ...Page,
    direction: z.enum(["in", "out"]).optional(),
    status: z.enum(["open", "reserved", "pending", "succeeded", "failed", "expired"]).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
  }),
  output: z.object({
    transactions: z.array(
      z.object({
        id: z.string(),
        agent_id: z.string(),
        direction: z.string(),
        kind: z.string(),
        status: z.string(),
        amount_sats: z.number(),
        fee_sats: z.number(),
        payment_hash: z.string().nullable(),
        description: z.string().nullable(),
        counterparty: z.string().nullable(),
        error_code: z.string().nullable(),
        created_at: z.string(),
        settled_at: z.string().nullable(),
      }),
    ),
    total_spent_sats: z
      .number()
      .describe("Settled payments (amount + fees) over every matching row, not just this page"),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const agentId =
      a.agent_id === undefined ? undefined : await agents.resolveAgent(ctx.env, ctx.principal, a.agent_id);
    const { rows, spentMsat } = await ops.paymentHistory(ctx.env, {
      operatorId: operatorId(ctx),
      ...(agentId ? { agentId } : {}),
      ...(a.direction ? { direction: a.direction } : {}),
      ...(a.status ? { status: a.status } : {}),
      ...(a.since ? { since: Date.parse(a.since) } : {}),
      ...(a.until ? { until: Date.parse(a.until) } : {}),
      limit: a.limit,
      offset: a.offset,
    });
    return { transactions: rows.map(journalOut), total_spent_sats: Math.ceil(spentMsat / 1000) };
  },
});

const AgentArg = z.strictObject({ agent_id: AgentId });

const transferToAgent = defineTool({
  name: "transfer_to_agent",
  description:
    "Moves sats to an agent: from another agent (from_agent_id) or, without it, from your wallet's unallocated sats.",
  audience: "operator",
  input: z.strictObject({ to_agent_id: AgentId, amount_sats: Sats, from_agent_id: AgentId.optional() }),
  output: z.object({
    to_agent_id: z.string(),
    to_balance_sats: z.number(),
    from_agent_id: z.string().nullable(),
    from_balance_sats: z.number().nullable(),
    amount_sats: z.number(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.transfer(ctx.env, operatorId(ctx), {
      fromAgentId: a.from_agent_id ?? null,
      toAgentId: a.to_agent_id,
      amountMsat: a.amount_sats * 1000,
    });
    return {
      to_agent_id: a.to_agent_id,
      to_balance_sats: toSatsFloor(r.to.availableMsat),
      from_agent_id: a.from_agent_id ?? null,
      from_balance_sats: r.from ? toSatsFloor(r.from.availableMsat) : null,
      amount_sats: a.amount_sats,
    };
  },
});

const sweepAgent = defineTool({
  name: "sweep_agent",
  description: "Returns an agent's available sats (all, or amount_sats) to you. Sats held by payments in flight stay.",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId, amount_sats: Sats.optional() }),
  output: z.object({ agent_id: z.string(), swept_sats: z.number(), balance_sats: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.sweepAgent(
      ctx.env,
      operatorId(ctx),
      a.agent_id,
      a.amount_sats === undefined ? null : a.amount_sats * 1000,
    );
    return {
      agent_id: a.agent_id,
      swept_sats: toSatsFloor(r.sweptMsat),
      balance_sats: toSatsFloor(r.snapshot.availableMsat),
    };
  },
});

const StatusOutput = z.object({
  agent_id: z.string(),
  status: z.string(),
  balance_sats: z.number(),
  reserved_sats: z.number(),
});

/** deactivate_agent and reactivate_agent: the kill switch, both ways. */
function switchTool(active: boolean, name: string, description: string) {
  return defineTool({
    name,
    description,
    audience: "operator",
    input: AgentArg,
    output: StatusOutput,
    annotations: { readOnlyHint: false, destructiveHint: !active, idempotentHint: true, openWorldHint: false },
    async run(ctx, a) {
      const s = await ops.setActive(ctx.env, operatorId(ctx), a.agent_id, active);
      return {
        agent_id: a.agent_id,
        status: s.status,
        balance_sats: toSatsFloor(s.availableMsat),
        reserved_sats: Math.ceil(s.reservedMsat / 1000),
      };
    },
  });
}

const deactivateAgent = switchTool(
  false,
  "deactivate_agent",
  "The kill switch: stops all of an agent's payments at once and disables its key. Payments in flight still settle.",
);

const reactivateAgent = switchTool(true, "reactivate_agent", "Re-enables a deactivated agent and its key.");

const resolvePayment = defineTool({
  name: "resolve_payment",
  description:
    "Settles an agent's held payment that nothing else can (its wallet connection is gone for good): succeeded spends the held sats; failed returns them, once the invoice can no longer be paid.",
  audience: "operator",
  input: z.strictObject({
    agent_id: AgentId,
    payment_id: z.string().regex(/^ent_[0-9a-f]{24}$/, "a payment id: ent_ followed by 24 hex characters"),
    outcome: z.enum(["succeeded", "failed"]),
    preimage: Preimage.optional().describe("The payment's preimage, if the sending wallet shows it (checked)"),
  }),
  output: z.object({ agent_id: z.string(), transaction: TransactionOutput, balance_sats: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.resolvePayment(ctx.env, operatorId(ctx), a.agent_id, {
      paymentId: a.payment_id,
      outcome: a.outcome,
      ...(a.preimage === undefined ? {} : { preimage: a.preimage }),
    });
    return {
      agent_id: a.agent_id,
      transaction: entryOut(r.entry),
      balance_sats: toSatsFloor(r.snapshot.availableMsat),
    };
  },
});

const deleteAgent = defineTool({
  name: "delete_agent",
  description:
    "Deletes an agent for good: its key stops working and its available sats return to you. Sats held by payments in flight return once they settle or fail.",
  audience: "operator",
  input: AgentArg,
  output: z.object({ agent_id: z.string(), returned_sats: z.number(), still_reserved_sats: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.deleteAgent(ctx.env, operatorId(ctx), a.agent_id);
    return {
      agent_id: a.agent_id,
      returned_sats: toSatsFloor(r.returnedMsat),
      still_reserved_sats: Math.ceil(r.stillReservedMsat / 1000),
    };
  },
});

const agentAnalytics = defineTool({
  name: "get_agent_analytics",
  description:
    "Spent, received, fees, payment counts and top hosts over 24h, 7d, 30d or all time, for one agent or all.",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId.optional(), period: z.enum(["24h", "7d", "30d", "all"]).default("7d") }),
  output: z.object({
    period: z.string(),
    spent_sats: z.number(),
    fees_sats: z.number(),
    received_sats: z.number(),
    payments: z.number(),
    failed_payments: z.number(),
    top_hosts: z.array(z.object({ host: z.string(), spent_sats: z.number(), payments: z.number() })),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.analytics(ctx.env, operatorId(ctx), a.agent_id ?? null, a.period);
    return {
      period: r.period,
      spent_sats: Math.ceil(r.spentMsat / 1000),
      fees_sats: Math.ceil(r.feesMsat / 1000),
      received_sats: toSatsFloor(r.receivedMsat),
      payments: r.payments,
      failed_payments: r.failed,
      top_hosts: r.topHosts.map((h) => ({
        host: h.host,
        spent_sats: Math.ceil(h.spentMsat / 1000),
        payments: h.payments,
      })),
    };
  },
});

const exportTransactions = defineTool({
  name: "export_transactions",
  description:
    "Your transactions as JSON or CSV (amounts in msats), optionally for one agent and a date range; up to 10,000 rows.",
  audience: "operator",
  input: z.strictObject({
    format: z.enum(["json", "csv"]).default("csv"),
    agent_id: AgentId.optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
  }),
  output: z.object({ format: z.string(), rows: z.number(), truncated: z.boolean(), content: z.string() }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.exportTransactions(ctx.env, operatorId(ctx), {
      format: a.format,
      ...(a.agent_id ? { agentId: a.agent_id } : {}),
      ...(a.since ? { since: Date.parse(a.since) } : {}),
      ...(a.until ? { until: Date.parse(a.until) } : {}),
    });
    return { format: r.format, rows: r.rows, truncated: r.truncated, content: r.body };
  },
});

const rotateApiKey = defineTool({
  name: "rotate_api_key",
  description:
    "Issues a new API key, shown ONCE. With agent_id: the agent's key (the old one stops working at once). Without: a new operator key (the key you called with is revoked).",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId.optional() }),
  output: z.object({ api_key: z.string(), agent_id: z.string().nullable() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const key = a.agent_id
      ? await ops.rotateAgentKey(ctx.env, operatorId(ctx), a.agent_id)
      : await ops.rotateOperatorKey(ctx.env, ctx.principal);
    return { api_key: key, agent_id: a.agent_id ?? null };
  },
});

const depositInvoice = defineTool({
  name: "get_deposit_invoice",
  description: "An invoice that tops up your wallet itself (not an agent). Fund agents from it with fund_agent.",
  audience: "operator",
  input: z.strictObject({ amount_sats: Sats, description: Description.default("Satchel deposit") }),
  output: z.object({ invoice: z.string(), payment_hash: z.string(), amount_sats: z.number(), expires_at: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const r = await ops.depositInvoice(ctx.env, operatorId(ctx), {
      amountMsat: a.amount_sats * 1000,
      description: a.description,
    });
    return {
      invoice: r.invoice,
      payment_hash: r.paymentHash,
      amount_sats: a.amount_sats,
      expires_at: new Date(r.expiresAt * 1000).toISOString(),
    };
  },
});

const withdraw = defineTool({
  name: "withdraw",
  description:
    "Pays a BOLT 11 invoice from your wallet's unallocated sats (never from agents' balances), with the same checks as pay_invoice.",
  audience: "operator",
  input: PayInvoiceInput,
  output: PaymentOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const p = await ops.withdraw(ctx.env, operatorId(ctx), payInvoiceRequest(a));
    return paymentOut(p);
  },
});

export const operatorTools = [
  createAgent,
  listAgents,
  fundAgent,
  transferToAgent,
  sweepAgent,
  deactivateAgent,
  reactivateAgent,
  deleteAgent,
  resolvePayment,
  setBudget,
  configureBudget,
  paymentHistory,
  agentAnalytics,
  exportTransactions,
  rotateApiKey,
  depositInvoice,
  withdraw,
];
