-- The wallet connection each outgoing payment was sent through (walletRef in src/wallet/connection.ts;
-- a hash, never the secret), or that issued each invoice, copied from the agent's ledger. connect_wallet
-- counts the payments still pending and the invoices still open on other connections, since only the
-- wallet that sent a payment (issued an invoice) can tell what became of it.
ALTER TABLE transactions ADD COLUMN wallet_ref TEXT;
CREATE INDEX transactions_open_by_wallet ON transactions(operator_id, wallet_ref) WHERE status IN ('reserved', 'pending', 'open');
