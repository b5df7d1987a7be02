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
