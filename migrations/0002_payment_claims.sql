-- One outgoing payment per invoice per operator: agents of one operator share a wallet, and a wallet
-- cannot tell which agent paid a hash, so the first agent to claim an invoice is the only one that may pay it.
CREATE TABLE payment_claims (
  operator_id  TEXT NOT NULL,
  payment_hash TEXT NOT NULL,
  agent_id     TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (operator_id, payment_hash)
);
