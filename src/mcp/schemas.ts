import { z } from "zod";
import { MAX_SATS } from "../money";

/** Reusable, bounded argument schemas: every tool input is validated against these. */
export const Sats = z.number().int().min(1).max(MAX_SATS);
export const LimitSats = z.number().int().min(0).max(MAX_SATS);
export const Invoice = z.string().trim().min(10).max(4096);
/** 32 bytes as 64 hex characters, lowercased. */
const Hex32 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters")
  .transform((s) => s.toLowerCase());
export const PaymentHash = Hex32;
export const Preimage = Hex32;
export const AgentId = z.string().regex(/^agt_[0-9a-f]{24}$/, "must look like agt_ followed by 24 hex characters");
export const IdempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .describe("A retry with the same key returns the first result, never pays again");
export const Description = z
  .string()
  .max(639)
  .refine((s) => new TextEncoder().encode(s).length <= 639, "at most 639 bytes (BOLT 11 limit)");
export const Host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i, "a host name, optionally *.domain");
export const Page = {
  limit: z.number().int().min(1).max(200).default(50),
  offset: z.number().int().min(0).max(100_000).default(0),
};

/** Arguments of a BOLT 11 payment (pay_invoice, withdraw). */
export const PayInvoiceInput = z.strictObject({
  invoice: Invoice,
  amount_sats: Sats.optional().describe("Only for invoices without an amount"),
  max_payment_sats: Sats.optional(),
  idempotency_key: IdempotencyKey.optional(),
});

/** PayInvoiceInput in the ledger's units (msat), leaving out what the caller did not give. */
export function payInvoiceRequest(a: z.infer<typeof PayInvoiceInput>): {
  invoice: string;
  amountMsat?: number;
  maxPaymentMsat?: number;
  idempotencyKey?: string;
} {
  return {
    invoice: a.invoice,
    ...(a.amount_sats === undefined ? {} : { amountMsat: a.amount_sats * 1000 }),
    ...(a.max_payment_sats === undefined ? {} : { maxPaymentMsat: a.max_payment_sats * 1000 }),
    ...(a.idempotency_key === undefined ? {} : { idempotencyKey: a.idempotency_key }),
  };
}

/** The money fields every money-moving response carries. */
export const PaymentOutput = z.object({
  status: z.enum(["succeeded", "pending", "failed"]),
  payment_id: z.string(),
  amount_sats: z.number(),
  fee_sats: z.number(),
  total_sats: z.number(),
  payment_hash: z.string().nullable(),
  preimage: z.string().nullable(),
  budget_remaining_sats: z.number(),
  internal: z.boolean().describe("Settled inside Satchel between two agents of one operator"),
  replayed: z.boolean().describe("An earlier result returned for a repeated idempotency_key"),
});

export const TransactionOutput = z.object({
  id: z.string(),
  direction: z.enum(["in", "out"]),
  kind: z.string(),
  status: z.string(),
  amount_sats: z.number(),
  fee_sats: z.number(),
  payment_hash: z.string().nullable(),
  description: z.string().nullable(),
  counterparty: z.string().nullable(),
  error_code: z.string().nullable(),
  created_at: z.string(),
  settled_at: z.string().nullable(),
});
