/**
 * Read queries the dashboard needs beyond operator.ts: one agent with its ledger snapshot, and the
 * daily spending of all agents in one query (a sparkline per table row without a query per agent).
 * Every function is scoped to the operator it is given.
 */
import { call, ledgerStub } from "../ledger/client";
import type { AgentSnapshot } from "../ledger/views";
import type { AgentRecord } from "../store/accounts";
import { journalUpToDate, requireAgent } from "./operator";

const DAY_MS = 86_400_000;

/** One of the operator's agents with its ledger's figures; NOT_FOUND for anyone else's. */
export async function agentWithSnapshot(
  env: Env,
  operatorId: string,
  agentId: string,
): Promise<{ record: AgentRecord; snapshot: AgentSnapshot }> {
  const record = await requireAgent(env, operatorId, agentId);
  return { record, snapshot: await call(ledgerStub(env, agentId).getSnapshot()) };
}

/**
 * Daily spending of every agent of the operator over the last `days` UTC days, oldest first. Same
 * definition as spendingSeries (settled outgoing payments, amount + fee); agents without spending
 * are absent from the map.
 */
export async function dailySpendingByAgent(
  env: Env,
  operatorId: string,
  days: number,
): Promise<Map<string, { day: string; spentMsat: number }[]>> {
  await journalUpToDate(env, operatorId);
  const start = Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
  const { results } = await env.DB.prepare(
    `SELECT agent_id, CAST(created_at / ${DAY_MS} AS INTEGER) AS d, SUM(amount_msat + fee_msat) AS spent
     FROM transactions
     WHERE operator_id = ? AND created_at >= ? AND direction = 'out'
       AND kind IN ('payment','internal') AND status = 'succeeded'
     GROUP BY agent_id, d`,
  )
    .bind(operatorId, start)
    .all<{ agent_id: string; d: number; spent: number }>();
  const byAgent = new Map<string, Map<number, number>>();
  for (const r of results) {
    const days = byAgent.get(r.agent_id) ?? new Map<number, number>();
    days.set(r.d, r.spent);
    byAgent.set(r.agent_id, days);
  }
  const out = new Map<string, { day: string; spentMsat: number }[]>();
  for (const [agentId, byDay] of byAgent) {
    out.set(
      agentId,
      Array.from({ length: days }, (_, i) => {
        const d = start / DAY_MS + i;
        return { day: new Date(d * DAY_MS).toISOString().slice(0, 10), spentMsat: byDay.get(d) ?? 0 };
      }),
    );
  }
  return out;
}

/** A series of `days` zero days ending today (UTC), for agents that spent nothing. */
export function emptySeries(days: number): { day: string; spentMsat: number }[] {
  const start = Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
  return Array.from({ length: days }, (_, i) => ({
    day: new Date(start + i * DAY_MS).toISOString().slice(0, 10),
    spentMsat: 0,
  }));
}

/** Every agent the operator ever had (deleted ones too, whose history remains), id → name and status. */
export async function agentDirectory(
  env: Env,
  operatorId: string,
): Promise<Map<string, { name: string; status: AgentRecord["status"] }>> {
  const { results } = await env.DB.prepare(
    "SELECT id, name, status FROM agents WHERE operator_id = ? ORDER BY created_at, id LIMIT 10000",
  )
    .bind(operatorId)
    .all<{ id: string; name: string; status: AgentRecord["status"] }>();
  return new Map(results.map((r) => [r.id, { name: r.name, status: r.status }]));
}
