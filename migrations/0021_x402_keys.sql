-- X402 over USDC (configure_x402): the operator's EVM signing key, sealed with AES-256-GCM under
-- WALLET_SECRET_KEY (src/paywall/evm-key.ts; the ciphertext is bound to the operator), its public
-- address, and the networks it may sign for. One row per operator; no row means X402 over USDC is
-- not configured (get_info: x402_ready false).
CREATE TABLE x402_keys (
  operator_id TEXT PRIMARY KEY REFERENCES operators(id),
  address TEXT NOT NULL,          -- 0x… checksummed EVM address (public)
  key_enc TEXT NOT NULL,          -- sealed private key: v1:<iv b64>:<ciphertext b64>
  networks TEXT NOT NULL,         -- JSON array of CAIP-2 ids, e.g. ["eip155:8453","eip155:84532"]
  created_at INTEGER NOT NULL,    -- unix ms
  updated_at INTEGER NOT NULL
);
