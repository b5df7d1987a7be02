/** Which agent issued an invoice: lets a payment between agents of one operator settle inside Satchel. */
export interface InvoiceOwner {
  agent_id: string;
  operator_id: string;
}

export async function recordInvoiceOwner(
  db: D1Database,
  row: {
    paymentHash: string;
    agentId: string;
    operatorId: string;
    amountMsat: number | null;
    createdAt: number;
    expiresAt: number;
  },
): Promise<void> {
  await db
    .prepare(
      "INSERT OR IGNORE INTO invoices (payment_hash, agent_id, operator_id, amount_msat, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(row.paymentHash, row.agentId, row.operatorId, row.amountMsat, row.createdAt, row.expiresAt)
    .run();
}

export async function findInvoiceOwner(db: D1Database, paymentHash: string): Promise<InvoiceOwner | null> {
  return db
    .prepare("SELECT agent_id, operator_id FROM invoices WHERE payment_hash = ?")
    .bind(paymentHash)
    .first<InvoiceOwner>();
}

/** Gives up a claim after a payment definitely failed, so the invoice may be paid again. */
export async function releaseClaim(
  db: D1Database,
  c: { operatorId: string; paymentHash: string; agentId: string },
): Promise<void> {
  await db
    .prepare("DELETE FROM payment_claims WHERE operator_id = ? AND payment_hash = ? AND agent_id = ?")
    .bind(c.operatorId, c.paymentHash, c.agentId)
    .run();
}

/**
 * Who issued the invoice, and which agent of the operator holds the right to pay it (the first
 * to claim; the primary key decides races), in one round trip to D1 (one batch, run in order).
 * `alsoRead` rides along in the same batch (the payer's wallet connection): its first row comes
 * back as `also`.
 */
export async function routeAndClaim<T>(
  db: D1Database,
  c: { operatorId: string; paymentHash: string; agentId: string; at: number },
  alsoRead: D1PreparedStatement,
): Promise<{ owner: InvoiceOwner | null; claimant: string; also: T | null }> {
  const [owner, claim, also] = await db.batch([
    db.prepare("SELECT agent_id, operator_id FROM invoices WHERE payment_hash = ?").bind(c.paymentHash),
    db
      .prepare(
        `INSERT INTO payment_claims (operator_id, payment_hash, agent_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (operator_id, payment_hash) DO UPDATE SET operator_id = operator_id
         RETURNING agent_id`,
      )
      .bind(c.operatorId, c.paymentHash, c.agentId, c.at),
    alsoRead,
  ]);
  return {
    owner: (owner?.results[0] as InvoiceOwner | undefined) ?? null,
    claimant: (claim?.results[0] as { agent_id: string }).agent_id,
    also: (also?.results[0] as T | undefined) ?? null,
  };
}
