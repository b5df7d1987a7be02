/** SQLite schema of one AgentLedger Durable Object; docs/storage.md describes it. */
export const LEDGER_SCHEMA = `
CREATE TABLE IF NOT EXISTS agent (
  id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  max_per_payment_msat INTEGER,
  daily_limit_msat INTEGER,
  budget_limit_msat INTEGER,
  per_session_limit_msat INTEGER,
  allowed_hosts TEXT,
  credited_msat INTEGER NOT NULL DEFAULT 0,
  spent_msat INTEGER NOT NULL DEFAULT 0,
  reserved_msat INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  id TEXT PRIMARY KEY,
  direction TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  amount_msat INTEGER NOT NULL,
  fee_limit_msat INTEGER NOT NULL DEFAULT 0,
  fee_msat INTEGER NOT NULL DEFAULT 0,
  payment_hash TEXT,
  preimage TEXT,
  invoice TEXT,
  description TEXT,
  idempotency_key TEXT,
  session_id TEXT,
  host TEXT,
  counterparty TEXT,
  error_code TEXT,
  error_message TEXT,
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  settled_at INTEGER,
  check_attempts INTEGER NOT NULL DEFAULT 0,
  wallet_ref TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  journaled_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS spend_minutes (
  minute INTEGER PRIMARY KEY,
  msat INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_spend (
  session_id TEXT PRIMARY KEY,
  msat INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS l402_tokens (
  origin TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  payment_hash TEXT NOT NULL,
  amount_msat INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_idempotency ON entries(idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_hash ON entries(payment_hash, direction);
CREATE INDEX IF NOT EXISTS entries_open ON entries(status) WHERE status IN ('reserved', 'pending', 'open');
-- Covers the rolling-24h sum, so a reservation never reads the table rows.
DROP INDEX IF EXISTS entries_out_time;
DROP INDEX IF EXISTS entries_spend;
CREATE INDEX IF NOT EXISTS entries_unjournaled ON entries(id) WHERE version > journaled_version;
`;

export type EntryStatus = "open" | "reserved" | "pending" | "succeeded" | "failed" | "expired";
/**
 * funding: operator → agent; invoice: received on the agent's invoice; payment: paid over the wallet;
 * internal: paid to or received from another agent of the operator; transfer: moved between agents
 * by the operator; sweep: returned to the operator. Only payment and internal (out) count as spending.
 */
export type EntryKind = "funding" | "invoice" | "payment" | "internal" | "transfer" | "sweep";

export interface AgentRow extends Record<string, SqlStorageValue> {
  id: string;
  operator_id: string;
  name: string;
  status: "active" | "disabled" | "deleted";
  max_per_payment_msat: number | null;
  daily_limit_msat: number | null;
  budget_limit_msat: number | null;
  per_session_limit_msat: number | null;
  allowed_hosts: string | null;
  credited_msat: number;
  spent_msat: number;
  reserved_msat: number;
  created_at: number;
  updated_at: number;
}

export interface EntryRow extends Record<string, SqlStorageValue> {
  id: string;
  direction: "in" | "out";
  kind: EntryKind;
  status: EntryStatus;
  amount_msat: number;
  fee_limit_msat: number;
  fee_msat: number;
  payment_hash: string | null;
  preimage: string | null;
  invoice: string | null;
  description: string | null;
  idempotency_key: string | null;
  session_id: string | null;
  host: string | null;
  counterparty: string | null;
  error_code: string | null;
  error_message: string | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
  settled_at: number | null;
  check_attempts: number;
  /** The wallet connection that sent the payment or issued the invoice (walletRef); only it is asked about it. */
  wallet_ref: string | null;
  version: number;
  journaled_version: number;
}

/** Additive changes for ledgers created by an older schema; each must be safe to run twice. */
export const LEDGER_UPGRADES = [
  "ALTER TABLE entries ADD COLUMN host TEXT",
  "ALTER TABLE entries ADD COLUMN wallet_ref TEXT",
];
