-- The wallet connection each outgoing payment was sent through (walletRef in src/wallet/connection.ts;
-- a hash, never the secret), copied from the agent's ledger. connect_wallet counts the payments still
-- pending on other connections, since only the wallet that sent a payment can settle it.
ALTER TABLE transactions ADD COLUMN wallet_ref TEXT;
CREATE INDEX transactions_open_by_wallet ON transactions(operator_id, wallet_ref) WHERE status IN ('reserved', 'pending');
