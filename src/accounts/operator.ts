/**
 * Operator-level operations shared by the operator tools and the dashboard. Every function takes
 * the operator it acts for and treats another operator's agent as not found.
 */
import { generateKey } from "../auth/keys";
import type { Principal } from "../auth/principal";
import { SatchelError } from "../errors";
import { newId } from "../ids";
import { TREASURY_PREFIX } from "../ledger/agent-ledger";
import { call, flushJournal, ledgerStub, payThroughLedger } from "../ledger/client";
import type { AgentSnapshot, EntryView, PaymentView } from "../ledger/views";
import { msat } from "../money";
import * as accounts from "../store/accounts";
import { listTransactions, spentMsat, type JournalRow, type TransactionFilter } from "../store/journal";
import { walletFor } from "../wallet/factory";

export type Period = "24h" | "7d" | "30d" | "all";

export interface OperatorOverview {
  walletKind: string;
  walletBalanceMsat: number;
  /** What agents hold (available + reserved): sats of the wallet already promised to agents. */
  allocatedMsat: number;
  /** walletBalance − allocated, never below 0: what fund_agent may allocate. */
  unallocatedMsat: number;
  agentCount: number;
}

/** The operator's agent, or NOT_FOUND: ids of other operators' agents are indistinguishable from unknown ones. */
export async function requireAgent(env: Env, operatorId: string, agentId: string): Promise<accounts.AgentRecord> {
  const agent = await accounts.getAgent(env.DB, operatorId, agentId);
  if (!agent) throw new SatchelError("NOT_FOUND", "No such agent.", { hint: "list_agents shows your agents' ids." });
  return agent;
}

async function allAgents(
  env: Env,
  operatorId: string,
): Promise<{ record: accounts.AgentRecord; snapshot: AgentSnapshot }[]> {
  const records = await accounts.listAgents(env.DB, operatorId, 10_000, 0);
  return Promise.all(
    records.map(async (record) => ({ record, snapshot: await call(ledgerStub(env, record.id).getSnapshot()) })),
  );
}

/** Wallet balance and how much of it agents hold. */
export async function overview(env: Env, operatorId: string): Promise<OperatorOverview> {
  const wallet = walletFor(env, operatorId);
  const [info, balance, agents] = await Promise.all([
    wallet.getInfo(),
    wallet.getBalance(),
    allAgents(env, operatorId),
  ]);
  const allocated = agents.reduce((sum, a) => sum + Math.max(0, a.snapshot.availableMsat) + a.snapshot.reservedMsat, 0);
  return {
    walletKind: info.kind,
    walletBalanceMsat: balance,
    allocatedMsat: allocated,
    unallocatedMsat: Math.max(0, balance - allocated),
    agentCount: agents.length,
  };
}

/** Allocates unallocated wallet sats to an agent; refuses to promise sats the wallet does not have. */
export async function fundAgent(
  env: Env,
  operatorId: string,
  agentId: string,
  amountMsat: number,
): Promise<AgentSnapshot> {
  await requireAgent(env, operatorId, agentId);
  const o = await overview(env, operatorId);
  if (amountMsat > o.unallocatedMsat) {
    throw new SatchelError(
      "INSUFFICIENT_BALANCE",
      `The wallet has ${Math.floor(o.unallocatedMsat / 1000)} sats not yet given to agents.`,
      { hint: "Deposit to the wallet (get_deposit_invoice) or sweep sats back from another agent." },
    );
  }
  return call(ledgerStub(env, agentId).credit({ amountMsat, kind: "funding", note: "funded by operator" }));
}

/**
 * Moves sats from one agent to another (from null = from the operator's unallocated sats). The
 * debit happens first under one transfer id; if the credit then fails, the same id credits back.
 */
export async function transfer(
  env: Env,
  operatorId: string,
  req: { fromAgentId: string | null; toAgentId: string; amountMsat: number },
): Promise<{ from: AgentSnapshot | null; to: AgentSnapshot }> {
  if (req.fromAgentId === null) {
    return { from: null, to: await fundAgent(env, operatorId, req.toAgentId, req.amountMsat) };
  }
  if (req.fromAgentId === req.toAgentId) throw new SatchelError("INVALID_INPUT", "Choose two different agents.");
  await Promise.all([requireAgent(env, operatorId, req.fromAgentId), requireAgent(env, operatorId, req.toAgentId)]);
  const id = newId("ent");
  const out = await call(
    ledgerStub(env, req.fromAgentId).debit({
      amountMsat: req.amountMsat,
      kind: "transfer",
      note: `to ${req.toAgentId}`,
      entryId: id,
    }),
  );
  try {
    const to = await call(
      // Its own id: both sides are journaled, and the journal is keyed by entry id.
      ledgerStub(env, req.toAgentId).credit({
        amountMsat: req.amountMsat,
        kind: "transfer",
        note: `from ${req.fromAgentId}`,
        entryId: `${id}_in`,
      }),
    );
    return { from: out.snapshot, to };
  } catch (e) {
    const back = await call(
      ledgerStub(env, req.fromAgentId).credit({
        amountMsat: req.amountMsat,
        kind: "transfer",
        note: "transfer undone",
        entryId: `${id}_undo`,
      }),
    );
    void back;
    throw e;
  }
}

/** Returns an agent's available sats (all, or amountMsat) to the operator. */
export async function sweepAgent(
  env: Env,
  operatorId: string,
  agentId: string,
  amountMsat: number | null,
): Promise<{ sweptMsat: number; snapshot: AgentSnapshot }> {
  await requireAgent(env, operatorId, agentId);
  const r = await call(ledgerStub(env, agentId).debit({ amountMsat, kind: "sweep", note: "swept to operator" }));
  return { sweptMsat: r.debitedMsat, snapshot: r.snapshot };
}

/**
 * Settles a payment of one of the operator's agents that stays held because nothing else can: the
 * operator says how it ended (AgentLedger.resolveHeld has the rules).
 */
export async function resolvePayment(
  env: Env,
  operatorId: string,
  agentId: string,
  req: { paymentId: string; outcome: "succeeded" | "failed"; preimage?: string },
): Promise<{ entry: EntryView; snapshot: AgentSnapshot }> {
  await requireAgent(env, operatorId, agentId);
  const ledger = ledgerStub(env, agentId);
  const entry = await call(ledger.resolveHeld(req));
  return { entry, snapshot: await call(ledger.getSnapshot()) };
}

/** The kill switch: the ledger refuses the agent's payments at once; its key stops working. */
export async function setActive(
  env: Env,
  operatorId: string,
  agentId: string,
  active: boolean,
): Promise<AgentSnapshot> {
  await requireAgent(env, operatorId, agentId);
  // The ledger first: it is what refuses payments; D1 only gates authentication.
  const s = await call(ledgerStub(env, agentId).setStatus(active ? "active" : "disabled"));
  await accounts.setAgentStatus(env.DB, agentId, active ? "active" : "disabled");
  return s;
}

/**
 * Deletes an agent: no more payments or keys, and its available sats return to the operator.
 * Payments in flight still settle or are reconciled; what they release also returns.
 */
export async function deleteAgent(
  env: Env,
  operatorId: string,
  agentId: string,
): Promise<{ returnedMsat: number; stillReservedMsat: number }> {
  await requireAgent(env, operatorId, agentId);
  const ledger = ledgerStub(env, agentId);
  await call(ledger.setStatus("deleted"));
  const swept = await call(ledger.debit({ amountMsat: null, kind: "sweep", note: "agent deleted" }));
  await accounts.setAgentStatus(env.DB, agentId, "deleted");
  await accounts.revokeAgentKeys(env.DB, agentId, Date.now());
  return { returnedMsat: swept.debitedMsat, stillReservedMsat: swept.snapshot.reservedMsat };
}

/** Replaces an agent's API key (the old one stops working at once); the new key is shown once. */
export async function rotateAgentKey(env: Env, operatorId: string, agentId: string): Promise<string> {
  await requireAgent(env, operatorId, agentId);
  const k = generateKey("agent");
  const now = Date.now();
  await accounts.revokeAgentKeys(env.DB, agentId, now);
  await accounts.insertApiKey(env.DB, {
    id: newId("key"),
    hash: k.hash,
    prefix: k.prefix,
    operatorId,
    agentId,
    createdAt: now,
  });
  return k.key;
}

/** Issues a new operator API key; when called with an operator key, that key is revoked. */
export async function rotateOperatorKey(env: Env, principal: Principal): Promise<string> {
  if (principal.kind !== "operator") throw new SatchelError("FORBIDDEN", "Operators only.");
  if (principal.via === "dev_key") {
    throw new SatchelError("UNSUPPORTED", "The development key is configured, not issued; it cannot be rotated.", {
      hint: "Change DEV_OPERATOR_KEY in .dev.vars, or create an operator key from the dashboard.",
    });
  }
  const k = generateKey("operator");
  const now = Date.now();
  await accounts.insertApiKey(env.DB, {
    id: newId("key"),
    hash: k.hash,
    prefix: k.prefix,
    operatorId: principal.operatorId,
    agentId: null,
    createdAt: now,
  });
  if (principal.via === "api_key") await accounts.revokeKey(env.DB, principal.keyId, now);
  return k.key;
}

const PERIOD_MS: Record<Period, number | null> = {
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
  all: null,
};

export interface Analytics {
  period: Period;
  spentMsat: number;
  feesMsat: number;
  receivedMsat: number;
  payments: number;
  failed: number;
  topHosts: { host: string; spentMsat: number; payments: number }[];
}

/** Spending, receipts, fees and top hosts over a period, from the D1 journal. */
export async function analytics(
  env: Env,
  operatorId: string,
  agentId: string | null,
  period: Period,
): Promise<Analytics> {
  if (agentId) await requireAgent(env, operatorId, agentId);
  await journalUpToDate(env, operatorId, agentId);
  const span = PERIOD_MS[period];
  const since = span === null ? 0 : Date.now() - span;
  const where = `operator_id = ?1 AND created_at >= ?2 ${agentId ? "AND agent_id = ?3" : ""}`;
  const args = agentId ? [operatorId, since, agentId] : [operatorId, since];
  const totals = await env.DB.prepare(
    `SELECT
       COALESCE(SUM(CASE WHEN direction = 'out' AND kind IN ('payment','internal') AND status = 'succeeded' THEN amount_msat END), 0) AS spent,
       COALESCE(SUM(CASE WHEN direction = 'out' AND kind IN ('payment','internal') AND status = 'succeeded' THEN fee_msat END), 0) AS fees,
       COALESCE(SUM(CASE WHEN direction = 'in' AND kind IN ('invoice','internal') AND status = 'succeeded' THEN amount_msat END), 0) AS received,
       COUNT(CASE WHEN direction = 'out' AND kind IN ('payment','internal') AND status = 'succeeded' THEN 1 END) AS payments,
       COUNT(CASE WHEN direction = 'out' AND kind IN ('payment','internal') AND status = 'failed' THEN 1 END) AS failed
     FROM transactions WHERE ${where}`,
  )
    .bind(...args)
    .first<{ spent: number; fees: number; received: number; payments: number; failed: number }>();
  const { results: hosts } = await env.DB.prepare(
    `SELECT host, SUM(amount_msat + fee_msat) AS spent, COUNT(*) AS payments FROM transactions
     WHERE ${where} AND host IS NOT NULL AND direction = 'out' AND status = 'succeeded'
     GROUP BY host ORDER BY spent DESC LIMIT 10`,
  )
    .bind(...args)
    .all<{ host: string; spent: number; payments: number }>();
  return {
    period,
    spentMsat: totals?.spent ?? 0,
    feesMsat: totals?.fees ?? 0,
    receivedMsat: totals?.received ?? 0,
    payments: totals?.payments ?? 0,
    failed: totals?.failed ?? 0,
    topHosts: hosts.map((h) => ({ host: h.host, spentMsat: h.spent, payments: h.payments })),
  };
}

/** Daily spending (amount + fees of settled payments) of one agent over the last `days` days, oldest first. */
export async function spendingSeries(
  env: Env,
  operatorId: string,
  agentId: string,
  days: number,
): Promise<{ day: string; spentMsat: number }[]> {
  await requireAgent(env, operatorId, agentId);
  await journalUpToDate(env, operatorId, agentId);
  const dayMs = 86_400_000;
  const start = Math.floor(Date.now() / dayMs) * dayMs - (days - 1) * dayMs;
  const { results } = await env.DB.prepare(
    `SELECT CAST(created_at / ${dayMs} AS INTEGER) AS d, SUM(amount_msat + fee_msat) AS spent FROM transactions
     WHERE operator_id = ? AND agent_id = ? AND created_at >= ? AND direction = 'out'
       AND kind IN ('payment','internal') AND status = 'succeeded' GROUP BY d`,
  )
    .bind(operatorId, agentId, start)
    .all<{ d: number; spent: number }>();
  const byDay = new Map(results.map((r) => [r.d, r.spent]));
  return Array.from({ length: days }, (_, i) => {
    const d = start / dayMs + i;
    return { day: new Date(d * dayMs).toISOString().slice(0, 10), spentMsat: byDay.get(d) ?? 0 };
  });
}

export interface ExportResult {
  format: "json" | "csv";
  contentType: string;
  body: string;
  rows: number;
  truncated: boolean;
}

const EXPORT_LIMIT = 10_000;
const CSV_COLUMNS = [
  "id",
  "agent_id",
  "direction",
  "kind",
  "status",
  "amount_msat",
  "fee_msat",
  "payment_hash",
  "description",
  "counterparty",
  "host",
  "error_code",
  "created_at",
  "settled_at",
] as const;

/** A CSV cell: quoted, and defused so spreadsheets never evaluate it as a formula. */
function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * Payments reach the D1 journal shortly after they answer (AgentLedger.journalAfterAnswer). Every
 * view of the journal calls this first, so it shows every payment already answered: one agent's
 * ledger is flushed, or, for an operator-wide view, every agent's (withdraw flushes the treasury).
 */
export async function journalUpToDate(env: Env, operatorId: string, agentId?: string | null): Promise<void> {
  const ids = agentId ? [agentId] : await accounts.operatorAgentIds(env.DB, operatorId);
  await Promise.all(ids.map((id) => flushJournal(env, id)));
}

/** A page of the operator's journal, up to date (see journalUpToDate). */
export async function listJournal(env: Env, filter: TransactionFilter): Promise<JournalRow[]> {
  await journalUpToDate(env, filter.operatorId, filter.agentId);
  return listTransactions(env.DB, filter);
}

/** A page of the journal and what its matching payments spent in all (every page), up to date. */
export async function paymentHistory(
  env: Env,
  filter: TransactionFilter,
): Promise<{ rows: JournalRow[]; spentMsat: number }> {
  await journalUpToDate(env, filter.operatorId, filter.agentId);
  const [rows, spent] = await Promise.all([listTransactions(env.DB, filter), spentMsat(env.DB, filter)]);
  return { rows, spentMsat: spent };
}

/** The operator's journal (optionally one agent, a date range) as JSON or CSV. */
export async function exportTransactions(
  env: Env,
  operatorId: string,
  q: { format: "json" | "csv"; agentId?: string; since?: number; until?: number },
): Promise<ExportResult> {
  if (q.agentId) await requireAgent(env, operatorId, q.agentId);
  const rows = await listJournal(env, {
    operatorId,
    ...(q.agentId ? { agentId: q.agentId } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
    limit: EXPORT_LIMIT + 1,
    offset: 0,
  });
  const truncated = rows.length > EXPORT_LIMIT;
  const page: JournalRow[] = rows.slice(0, EXPORT_LIMIT);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const out = page.map((r) => ({ ...r, created_at: iso(r.created_at), settled_at: iso(r.settled_at) }));
  if (q.format === "json") {
    return { format: "json", contentType: "application/json", body: JSON.stringify(out), rows: out.length, truncated };
  }
  const lines = [
    CSV_COLUMNS.join(","),
    ...out.map((r) => CSV_COLUMNS.map((c) => csvCell((r as Record<string, unknown>)[c])).join(",")),
  ];
  return {
    format: "csv",
    contentType: "text/csv; charset=utf-8",
    body: lines.join("\r\n") + "\r\n",
    rows: out.length,
    truncated,
  };
}

/** The treasury ledger of an operator: pays withdrawals with the same money path as agents. */
export function treasuryId(operatorId: string): string {
  return `${TREASURY_PREFIX}${operatorId}`;
}

/** Pays an invoice from the operator's unallocated sats (never from what agents hold). */
export async function withdraw(
  env: Env,
  operatorId: string,
  req: { invoice: string; amountMsat?: number; maxPaymentMsat?: number; idempotencyKey?: string },
): Promise<PaymentView> {
  const id = treasuryId(operatorId);
  const ledger = ledgerStub(env, id);
  const treasury = await call(
    ledger.init({
      agentId: id,
      operatorId,
      name: "operator treasury",
      policy: {
        maxPerPaymentMsat: null,
        dailyLimitMsat: null,
        budgetLimitMsat: null,
        perSessionLimitMsat: null,
        allowedHosts: null,
      },
    }),
  );
  const o = await overview(env, operatorId);
  // Sats held by a withdrawal still in flight are not in the wallet's balance yet: keep them out.
  await call(ledger.syncTreasury(Math.max(0, o.unallocatedMsat - treasury.reservedMsat)));
  try {
    return await payThroughLedger(env, id, { ...req, sessionId: "treasury" });
  } finally {
    // Withdrawals are rare operator actions: journaled now, so journalUpToDate need not wake the
    // treasury of every operator that never withdrew.
    await flushJournal(env, id).catch(() => undefined);
  }
}

/** An invoice on the operator's wallet itself, to top it up. Not credited to any agent. */
export async function depositInvoice(
  env: Env,
  operatorId: string,
  req: { amountMsat: number; description: string },
): Promise<{ invoice: string; paymentHash: string; expiresAt: number }> {
  const made = await walletFor(env, operatorId).makeInvoice({
    amountMsat: msat(req.amountMsat),
    description: req.description,
    expirySeconds: 3600,
  });
  return { invoice: made.invoice, paymentHash: made.paymentHash, expiresAt: made.expiresAt };
}
