/** One ledger entry as journaled to D1's transactions table. */
export interface JournalRow {
  id: string;
  agent_id: string;
  operator_id: string;
  direction: "in" | "out";
  kind: string;
  status: string;
  amount_msat: number;
  fee_msat: number;
  payment_hash: string | null;
  description: string | null;
  counterparty: string | null;
  host: string | null;
  /** The wallet connection that sent the payment or issued the invoice (walletRef); null for the others. */
  wallet_ref: string | null;
  error_code: string | null;
  created_at: number;
  updated_at: number;
  settled_at: number | null;
}

const UPSERT = `INSERT INTO transactions (id, agent_id, operator_id, direction, kind, status, amount_msat, fee_msat,
  payment_hash, description, counterparty, error_code, created_at, updated_at, settled_at, host, wallet_ref)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, kind = excluded.kind, amount_msat = excluded.amount_msat,
  fee_msat = excluded.fee_msat, error_code = excluded.error_code, updated_at = excluded.updated_at,
  settled_at = excluded.settled_at, counterparty = excluded.counterparty
  WHERE excluded.updated_at >= transactions.updated_at`;

/** Upserts ledger entries into the journal in one batch; a newer row never loses to an older one. */
export async function journalEntries(db: D1Database, rows: JournalRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.batch(
    rows.map((r) =>
      db
        .prepare(UPSERT)
        .bind(
          r.id,
          r.agent_id,
          r.operator_id,
          r.direction,
          r.kind,
          r.status,
          r.amount_msat,
          r.fee_msat,
          r.payment_hash,
          r.description,
          r.counterparty,
          r.error_code,
          r.created_at,
          r.updated_at,
          r.settled_at,
          r.host,
          r.wallet_ref,
        ),
    ),
  );
}

export interface TransactionFilter {
  operatorId: string;
  agentId?: string;
  direction?: "in" | "out";
  status?: string;
  since?: number;
  until?: number;
  limit: number;
  offset: number;
}

function whereOf(f: Omit<TransactionFilter, "limit" | "offset">): { sql: string; args: (string | number)[] } {
  const where = ["operator_id = ?"];
  const args: (string | number)[] = [f.operatorId];
  const add = (clause: string, value: string | number | undefined) => {
    if (value === undefined || value === "") return;
    where.push(clause);
    args.push(value);
  };
  add("agent_id = ?", f.agentId);
  add("direction = ?", f.direction);
  add("status = ?", f.status);
  add("created_at >= ?", f.since);
  add("created_at < ?", f.until);
  return { sql: where.join(" AND "), args };
}

/** Journal rows of one operator (optionally one agent), newest first. */
export async function listTransactions(db: D1Database, f: TransactionFilter): Promise<JournalRow[]> {
  const w = whereOf(f);
  const { results } = await db
    .prepare(`SELECT * FROM transactions WHERE ${w.sql} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
    .bind(...w.args, f.limit, f.offset)
    .all<JournalRow>();
  return results;
}

/** What the filtered rows spent (settled payments out: amount + fees), over every page. */
export async function spentMsat(db: D1Database, f: Omit<TransactionFilter, "limit" | "offset">): Promise<number> {
  const w = whereOf(f);
  const row = await db
    .prepare(
      `SELECT COALESCE(SUM(amount_msat + fee_msat), 0) AS v FROM transactions WHERE ${w.sql}
       AND direction = 'out' AND kind IN ('payment', 'internal') AND status = 'succeeded'`,
    )
    .bind(...w.args)
    .first<{ v: number }>();
  return row?.v ?? 0;
}
