// D1 paywall_calls (migrations/0020_paywall_calls.sql): the HTTP side of paid API calls, and the
// first result of each idempotency_key.

export type CallOutcome =
  "in_progress" | "paid" | "token_reused" | "free" | "refused" | "failed" | "upstream_error" | "dry_run";

export interface PaywallCallRow {
  id: string;
  agent_id: string;
  operator_id: string;
  idempotency_key: string | null;
  method: string;
  host: string;
  path: string;
  protocol: string | null;
  outcome: CallOutcome;
  http_status: number | null;
  payment_id: string | null;
  payment_hash: string | null;
  amount_msat: number;
  fee_msat: number;
  usdc_amount: string | null;
  btc_usd: number | null;
  error_code: string | null;
  result_json: string | null;
  created_at: number;
  updated_at: number;
}

/**
 * Claims an idempotency key for a call. Returns null when the claim is ours, else the existing row
 * (a finished call with its result, or one still in progress).
 */
export async function claimKey(
  db: D1Database,
  row: Pick<PaywallCallRow, "id" | "agent_id" | "operator_id" | "idempotency_key" | "method" | "host" | "path">,
  now: number,
): Promise<PaywallCallRow | null> {
  const inserted = await db
    .prepare(
      `INSERT INTO paywall_calls (id, agent_id, operator_id, idempotency_key, method, host, path, outcome, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'in_progress', ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(row.id, row.agent_id, row.operator_id, row.idempotency_key, row.method, row.host, row.path, now, now)
    .run();
  if (inserted.meta.changes === 1) return null;
  return db
    .prepare("SELECT * FROM paywall_calls WHERE agent_id = ? AND idempotency_key = ?")
    .bind(row.agent_id, row.idempotency_key)
    .first<PaywallCallRow>();
}

/** Lets a key be used again: its call failed before any money moved. */
export async function releaseKey(db: D1Database, id: string): Promise<void> {
  await db.prepare("DELETE FROM paywall_calls WHERE id = ? AND outcome = 'in_progress'").bind(id).run();
}

/** Writes (inserts or completes) a call's row. */
export async function recordCall(db: D1Database, r: PaywallCallRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO paywall_calls (id, agent_id, operator_id, idempotency_key, method, host, path, protocol, outcome,
         http_status, payment_id, payment_hash, amount_msat, fee_msat, usdc_amount, btc_usd, error_code, result_json,
         created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
       ON CONFLICT (id) DO UPDATE SET protocol = excluded.protocol, outcome = excluded.outcome,
         http_status = excluded.http_status, payment_id = excluded.payment_id, payment_hash = excluded.payment_hash,
         amount_msat = excluded.amount_msat, fee_msat = excluded.fee_msat, usdc_amount = excluded.usdc_amount,
         btc_usd = excluded.btc_usd, error_code = excluded.error_code, result_json = excluded.result_json,
         host = excluded.host, path = excluded.path, updated_at = excluded.updated_at`,
    )
    .bind(
      r.id,
      r.agent_id,
      r.operator_id,
      r.idempotency_key,
      r.method,
      r.host,
      r.path,
      r.protocol,
      r.outcome,
      r.http_status,
      r.payment_id,
      r.payment_hash,
      r.amount_msat,
      r.fee_msat,
      r.usdc_amount,
      r.btc_usd,
      r.error_code,
      r.result_json,
      r.created_at,
      r.updated_at,
    )
    .run();
}

/** An agent's paid calls, newest first (for tests, the dashboard and analytics). */
export async function listCalls(db: D1Database, agentId: string, limit = 50): Promise<PaywallCallRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM paywall_calls WHERE agent_id = ? ORDER BY created_at DESC LIMIT ?")
    .bind(agentId, limit)
    .all<PaywallCallRow>();
  return results;
}
