import type { BudgetPolicy } from "./policy";
import type { AgentRow, EntryRow } from "./schema";

/** An entry of the ledger as callers see it (msats; the MCP layer converts to sats). */
export interface EntryView {
  id: string;
  direction: "in" | "out";
  kind: EntryRow["kind"];
  status: EntryRow["status"];
  amountMsat: number;
  feeMsat: number;
  paymentHash: string | null;
  /** Outgoing: proof of payment. Incoming: only once paid. */
  preimage: string | null;
  invoice: string | null;
  description: string | null;
  counterparty: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: number;
  settledAt: number | null;
  expiresAt: number | null;
}

export interface AgentSnapshot {
  id: string;
  operatorId: string;
  name: string;
  status: AgentRow["status"];
  policy: BudgetPolicy;
  creditedMsat: number;
  spentMsat: number;
  reservedMsat: number;
  availableMsat: number;
  dailySpentMsat: number;
  sessionSpentMsat: number;
  remaining: {
    lifetimeMsat: number | null;
    dailyMsat: number | null;
    sessionMsat: number | null;
    spendableMsat: number;
  };
}

export interface PaymentView {
  entry: EntryView;
  /** True when an idempotency key returned an earlier payment instead of paying again. */
  replayed: boolean;
  /** What the agent may still spend after this payment, under every limit and its balance. */
  spendableMsat: number;
}

export function entryView(r: EntryRow): EntryView {
  const preimageVisible = r.direction === "out" || r.status === "succeeded";
  return {
    id: r.id,
    direction: r.direction,
    kind: r.kind,
    status: r.status,
    amountMsat: r.amount_msat,
    feeMsat: r.fee_msat,
    paymentHash: r.payment_hash,
    preimage: preimageVisible ? r.preimage : null,
    invoice: r.invoice,
    description: r.description,
    counterparty: r.counterparty,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    createdAt: r.created_at,
    settledAt: r.settled_at,
    expiresAt: r.expires_at,
  };
}

export function policyOf(a: AgentRow): BudgetPolicy {
  return {
    maxPerPaymentMsat: a.max_per_payment_msat,
    dailyLimitMsat: a.daily_limit_msat,
    budgetLimitMsat: a.budget_limit_msat,
    perSessionLimitMsat: a.per_session_limit_msat,
    allowedHosts: a.allowed_hosts === null ? null : (JSON.parse(a.allowed_hosts) as string[]),
  };
}
