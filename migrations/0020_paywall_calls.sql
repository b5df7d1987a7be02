-- Paid API calls (pay_l402_api, pay_l402_challenge): one row per call that paid or tried to pay,
-- and per call with an idempotency_key (whose first result is kept in result_json and replayed).
-- The payment itself is in transactions (journaled by the agent's ledger); this adds the HTTP side.
CREATE TABLE paywall_calls (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  operator_id TEXT NOT NULL,
  idempotency_key TEXT,
  method TEXT NOT NULL,
  host TEXT NOT NULL,
  path TEXT NOT NULL,
  -- l402 | x402 | x402-lightning; NULL when no payment was needed
  protocol TEXT,
  -- in_progress | paid | token_reused | free | refused | failed | upstream_error
  outcome TEXT NOT NULL,
  http_status INTEGER,
  payment_id TEXT,
  payment_hash TEXT,
  amount_msat INTEGER NOT NULL DEFAULT 0,
  fee_msat INTEGER NOT NULL DEFAULT 0,
  -- X402: the price in USDC (decimal string) and the BTC/USD rate used
  usdc_amount TEXT,
  btc_usd REAL,
  error_code TEXT,
  result_json TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX paywall_calls_key ON paywall_calls(agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX paywall_calls_operator ON paywall_calls(operator_id, created_at);
CREATE INDEX paywall_calls_agent ON paywall_calls(agent_id, created_at);
