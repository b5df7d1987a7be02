import type { BudgetPolicy } from "../ledger/policy";
import type { AgentSnapshot, EntryView, PaymentView } from "../ledger/views";
import type { JournalRow } from "../store/journal";

/** msats → sats for display, rounding up so a cost never looks smaller than it was. */
export const toSats = (v: number): number => Math.ceil(v / 1000);
/** msats → sats for headroom, rounding down so spendable never looks larger than it is. */
export const toSatsFloor = (v: number): number => Math.floor(v / 1000);
const limitSats = (v: number | null): number | null => (v === null ? null : toSatsFloor(v));
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function paymentOut(p: PaymentView) {
  const e = p.entry;
  return {
    status: e.status as "succeeded" | "pending" | "failed",
    payment_id: e.id,
    amount_sats: toSats(e.amountMsat),
    fee_sats: toSats(e.feeMsat),
    total_sats: toSats(e.amountMsat + e.feeMsat),
    payment_hash: e.paymentHash,
    preimage: e.preimage,
    budget_remaining_sats: toSatsFloor(p.spendableMsat),
    internal: e.kind === "internal",
    replayed: p.replayed,
  };
}

export function policyOut(p: BudgetPolicy) {
  return {
    max_per_payment_sats: limitSats(p.maxPerPaymentMsat),
    daily_limit_sats: limitSats(p.dailyLimitMsat),
    budget_limit_sats: limitSats(p.budgetLimitMsat),
    per_session_limit_sats: limitSats(p.perSessionLimitMsat),
    allowed_hosts: p.allowedHosts,
  };
}

export function budgetOut(s: AgentSnapshot) {
  return {
    agent_id: s.id,
    status: s.status,
    limits: policyOut(s.policy),
    balance_sats: toSatsFloor(Math.max(0, s.availableMsat)),
    reserved_sats: toSats(s.reservedMsat),
    spent: {
      lifetime_sats: toSats(s.spentMsat),
      last_24h_sats: toSats(s.dailySpentMsat),
      session_sats: toSats(s.sessionSpentMsat),
    },
    remaining: {
      lifetime_sats: limitSats(s.remaining.lifetimeMsat),
      daily_sats: limitSats(s.remaining.dailyMsat),
      session_sats: limitSats(s.remaining.sessionMsat),
      spendable_sats: toSatsFloor(s.remaining.spendableMsat),
    },
  };
}

export function entryOut(e: EntryView) {
  return {
    id: e.id,
    direction: e.direction,
    kind: e.kind,
    status: e.status,
    amount_sats: toSats(e.amountMsat),
    fee_sats: toSats(e.feeMsat),
    payment_hash: e.paymentHash,
    description: e.description,
    counterparty: e.counterparty,
    error_code: e.errorCode,
    created_at: iso(e.createdAt)!,
    settled_at: iso(e.settledAt),
  };
}

export function journalOut(r: JournalRow) {
  return {
    id: r.id,
    agent_id: r.agent_id,
    direction: r.direction,
    kind: r.kind,
    status: r.status,
    amount_sats: toSats(r.amount_msat),
    fee_sats: toSats(r.fee_msat),
    payment_hash: r.payment_hash,
    description: r.description,
    counterparty: r.counterparty,
    error_code: r.error_code,
    created_at: iso(r.created_at)!,
    settled_at: iso(r.settled_at),
  };
}
