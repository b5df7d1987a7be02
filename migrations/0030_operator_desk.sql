-- Invoice owners and payment claims moved from D1 into each operator's OperatorDesk Durable Object
-- (src/wallet/operator-desk.ts), so that a payment reaches the wallet without a D1 round trip.
DROP TABLE IF EXISTS payment_claims;
DROP TABLE IF EXISTS invoices;
