-- The host a payment went to (paid APIs), for analytics' top hosts. NULL for plain invoices.
ALTER TABLE transactions ADD COLUMN host TEXT;
