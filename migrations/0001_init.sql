-- Satchel D1 schema v1. Append-only: change the schema with a new migration file.
-- docs/storage.md explains every table and who writes it.

CREATE TABLE operators (
  id           TEXT PRIMARY KEY,              -- opr_<hex>
  name         TEXT NOT NULL,
  wallet_type  TEXT NOT NULL DEFAULT 'fake',  -- fake | nwc | lnbits
  wallet_secret_enc TEXT,                     -- AES-GCM ciphertext of the wallet secret; NULL for fake
  created_at   INTEGER NOT NULL               -- unix ms
);

CREATE TABLE agents (
  id           TEXT PRIMARY KEY,              -- agt_<hex>; also the name of its AgentLedger Durable Object
  operator_id  TEXT NOT NULL REFERENCES operators(id),
  name         TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
  created_at   INTEGER NOT NULL
);
CREATE INDEX agents_by_operator ON agents(operator_id, created_at);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,              -- key_<hex>
  key_hash     TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the whole key; the key itself is never stored
  key_prefix   TEXT NOT NULL,                 -- first characters, for display only
  operator_id  TEXT NOT NULL REFERENCES operators(id),
  agent_id     TEXT REFERENCES agents(id),    -- NULL: an operator key
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX api_keys_by_operator ON api_keys(operator_id);

-- Which agent issued an invoice, so a payment between agents of one operator settles inside Satchel.
CREATE TABLE invoices (
  payment_hash TEXT PRIMARY KEY,
  agent_id     TEXT NOT NULL REFERENCES agents(id),
  operator_id  TEXT NOT NULL REFERENCES operators(id),
  amount_msat  INTEGER,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL               -- unix seconds, as in BOLT 11
);

-- Journal of every ledger entry, written by the AgentLedger after each state change (upsert by id).
CREATE TABLE transactions (
  id            TEXT PRIMARY KEY,             -- the ledger entry id
  agent_id      TEXT NOT NULL,
  operator_id   TEXT NOT NULL,
  direction     TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  kind          TEXT NOT NULL,                -- funding | invoice | payment | internal
  status        TEXT NOT NULL,                -- open | reserved | pending | succeeded | failed | expired
  amount_msat   INTEGER NOT NULL,
  fee_msat      INTEGER NOT NULL DEFAULT 0,
  payment_hash  TEXT,
  description   TEXT,
  counterparty  TEXT,                         -- the other agent for internal payments
  error_code    TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  settled_at    INTEGER
);
CREATE INDEX transactions_by_operator ON transactions(operator_id, created_at);
CREATE INDEX transactions_by_agent ON transactions(agent_id, created_at);
CREATE INDEX transactions_by_hash ON transactions(payment_hash);
