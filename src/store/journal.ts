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
  error_code: string | null;
  created_at: number;
  updated_at: number;
  settled_at: number | null;
}

const UPSERT = `INSERT INTO transactions (id, agent_id, operator_id, direction, kind, status, amount_msat, fee_msat,
  payment_hash, description, counterparty, error_code, created_at, updated_at, settled_at, host)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
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

/** Journal rows of one operator (optionally one agent), newest first. */
export async function listTransactions(db: D1Database, f: TransactionFilter): Promise<JournalRow[]> {
  const where = ["operator_id = ?"];
  const args: (string | number)[] = [f.operatorId];
  if (f.agentId) {
    where.push("agent_id = ?");
    args.push(f.agentId);
  }
  if (f.direction) {
    where.push("direction = ?");
    args.push(f.direction);
  }
  if (f.status) {
    where.push("status = ?");
    args.push(f.status);
  }
  if (f.since !== undefined) {
    where.push("created_at >= ?");
    args.push(f.since);
  }
  if (f.until !== undefined) {
    where.push("created_at < ?");
    args.push(f.until);
  }
  const { results } = await db
    .prepare(`SELECT * FROM transactions WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
    .bind(...args, f.limit, f.offset)
    .all<JournalRow>();
  return results;
}
