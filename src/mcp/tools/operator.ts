import { z } from "zod";
import * as agents from "../../accounts/agents";
import { SatchelError } from "../../errors";
import type { BudgetPolicy } from "../../ledger/policy";
import { listTransactions } from "../../store/journal";
import { budgetOut, journalOut, policyOut, toSatsFloor } from "../format";
import { AgentId, Host, LimitSats, Page, Sats } from "../schemas";
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
  title: "Create agent",
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
      initialBalanceMsat: a.initial_balance_sats * 1000,
    });
    return {
      agent_id: created.agentId,
      name: a.name,
      api_key: created.apiKey,
      balance_sats: toSatsFloor(created.snapshot.availableMsat),
      limits: policyOut(created.snapshot.policy),
    };
  },
});

const listAgents = defineTool({
  name: "list_agents",
  title: "List agents",
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
  title: "Fund agent",
  description:
    "Adds sats to an agent's balance. The sats stay in your wallet; the agent may spend them within its limits.",
  audience: "operator",
  input: z.strictObject({ agent_id: AgentId, amount_sats: Sats }),
  output: z.object({ agent_id: z.string(), funded_sats: z.number(), balance_sats: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const id = await agents.resolveAgent(ctx.env, ctx.principal, a.agent_id);
    const s = await agents.fundAgent(ctx.env, id, a.amount_sats * 1000);
    return { agent_id: id, funded_sats: a.amount_sats, balance_sats: toSatsFloor(s.availableMsat) };
  },
});

const setBudget = defineTool({
  name: "set_budget",
  title: "Set budget",
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
  title: "Configure budget",
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
  title: "Payment history",
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
    total_spent_sats: z.number(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const agentId =
      a.agent_id === undefined ? undefined : await agents.resolveAgent(ctx.env, ctx.principal, a.agent_id);
    const rows = await listTransactions(ctx.env.DB, {
      operatorId: operatorId(ctx),
      ...(agentId ? { agentId } : {}),
      ...(a.direction ? { direction: a.direction } : {}),
      ...(a.status ? { status: a.status } : {}),
      ...(a.since ? { since: Date.parse(a.since) } : {}),
      ...(a.until ? { until: Date.parse(a.until) } : {}),
      limit: a.limit,
      offset: a.offset,
    });
    const spent = rows
      .filter((r) => r.direction === "out" && r.status === "succeeded")
      .reduce((sum, r) => sum + r.amount_msat + r.fee_msat, 0);
    return { transactions: rows.map(journalOut), total_spent_sats: Math.ceil(spent / 1000) };
  },
});

export const operatorTools = [createAgent, listAgents, fundAgent, setBudget, configureBudget, paymentHistory];
