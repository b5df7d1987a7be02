import { SatchelError } from "../errors";
import { msatToSatsFloor } from "../money";

/** Limits an operator sets on one agent; null means "no limit". All msats. */
export interface BudgetPolicy {
  maxPerPaymentMsat: number | null;
  dailyLimitMsat: number | null;
  budgetLimitMsat: number | null;
  perSessionLimitMsat: number | null;
  allowedHosts: string[] | null;
}

/** What the agent has already committed, as seen by the ledger at the moment of a reservation. */
export interface SpendState {
  /** credited − spent − reserved: what the agent may still draw from the operator's wallet. */
  availableMsat: number;
  /** Outgoing amount + fees, settled or reserved, over the agent's life. */
  lifetimeSpentMsat: number;
  /** Same, over the last 24 hours. */
  dailySpentMsat: number;
  /** Same, in the caller's session (connection); 0 when there is no session. */
  sessionSpentMsat: number;
}

/**
 * The policy a connection spends under: an OAuth grant's cap (per connection, across its sessions)
 * tightens the agent's per-session limit. The same for payments and for what get_budget_status shows.
 */
export function withConnectionCap(policy: BudgetPolicy, capMsat: number | undefined): BudgetPolicy {
  if (capMsat === undefined) return policy;
  return { ...policy, perSessionLimitMsat: Math.min(policy.perSessionLimitMsat ?? Infinity, capMsat) };
}

/** Headroom left under each limit, and the least of them. */
export function remaining(policy: BudgetPolicy, s: SpendState) {
  const left = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used));
  const lifetime = left(policy.budgetLimitMsat, s.lifetimeSpentMsat);
  const daily = left(policy.dailyLimitMsat, s.dailySpentMsat);
  const session = left(policy.perSessionLimitMsat, s.sessionSpentMsat);
  const spendable = Math.min(
    Math.max(0, s.availableMsat),
    ...[lifetime, daily, session].filter((v): v is number => v !== null),
  );
  return { lifetimeMsat: lifetime, dailyMsat: daily, sessionMsat: session, spendableMsat: spendable };
}

/**
 * Decides whether a payment of amount (plus the fee reserve) may be reserved. Pure, so every limit
 * has unit tests; the AgentLedger calls it inside one synchronous step, so two calls never race.
 */
export function checkSpend(
  policy: BudgetPolicy,
  s: SpendState,
  amountMsat: number,
  feeLimitMsat: number,
): SatchelError | null {
  const total = amountMsat + feeLimitMsat;
  const sats = (v: number) => msatToSatsFloor(v);
  if (policy.maxPerPaymentMsat !== null && amountMsat > policy.maxPerPaymentMsat) {
    return new SatchelError(
      "AMOUNT_TOO_LARGE",
      `Payment of ${sats(amountMsat)} sats is above this agent's per-payment limit of ${sats(policy.maxPerPaymentMsat)} sats.`,
      {
        hint: "Ask the operator to raise max_per_payment_sats, or pay a smaller invoice.",
        details: { limit: "per_payment" },
      },
    );
  }
  const r = remaining(policy, s);
  const over = (limit: "lifetime" | "daily" | "session", left: number | null, name: string): SatchelError | null =>
    left !== null && total > left
      ? new SatchelError(
          "BUDGET_EXCEEDED",
          `Payment of ${sats(amountMsat)} sats (plus up to ${sats(feeLimitMsat)} sats fees) exceeds the ${name}: ${sats(left)} sats left.`,
          {
            hint:
              limit === "daily"
                ? "The daily limit is a rolling 24 hours; wait, or ask the operator to raise daily_limit_sats."
                : limit === "session"
                  ? "Start a new session, or ask the operator to raise the per-session limit."
                  : "Ask the operator to raise budget_limit_sats.",
            details: { limit, remaining_sats: sats(left) },
          },
        )
      : null;
  const err =
    over("lifetime", r.lifetimeMsat, "lifetime budget") ??
    over("daily", r.dailyMsat, "daily limit") ??
    over("session", r.sessionMsat, "per-session limit");
  if (err) return err;
  if (total > s.availableMsat) {
    return new SatchelError(
      "INSUFFICIENT_BALANCE",
      `Payment of ${sats(amountMsat)} sats (plus up to ${sats(feeLimitMsat)} sats fees) exceeds the agent's balance of ${sats(Math.max(0, s.availableMsat))} sats.`,
      { hint: "Ask the operator to fund this agent (fund_agent), or receive sats on an invoice." },
    );
  }
  return null;
}

/** allowed_hosts entries are exact hosts (host or host:port) or "*.domain" (any subdomain, not the apex). */
export function hostAllowed(policy: BudgetPolicy, host: string): boolean {
  if (policy.allowedHosts === null) return true;
  const h = host.toLowerCase();
  return policy.allowedHosts.some((rule) => (rule.startsWith("*.") ? h.endsWith(rule.slice(1)) : h === rule));
}
