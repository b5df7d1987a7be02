/** Every failure a caller can see has one of these codes; clients may branch on them. */
export const ERROR_CODES = [
  "INVALID_INPUT",
  "INVALID_INVOICE",
  "WRONG_NETWORK",
  "INVOICE_EXPIRED",
  "AMOUNT_REQUIRED",
  "AMOUNT_MISMATCH",
  "AMOUNT_TOO_LARGE",
  "BUDGET_EXCEEDED",
  "INSUFFICIENT_BALANCE",
  "ALREADY_PAID",
  "PAYMENT_FAILED",
  "PAYMENT_PENDING",
  "PREIMAGE_MISMATCH",
  "WALLET_UNAVAILABLE",
  "WALLET_NOT_CONFIGURED",
  "UNSUPPORTED",
  "HOST_NOT_ALLOWED",
  "AGENT_DISABLED",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "RATE_LIMITED",
  /** A 402 answer carries no payment challenge Satchel can pay (garbage, unknown protocol or network). */
  "UNSUPPORTED_CHALLENGE",
  /** A 402 challenge contradicts itself, e.g. the macaroon's payment hash is not the invoice's. */
  "INVALID_CHALLENGE",
  /** The paid API misbehaved: unreachable, too slow, too large, too many redirects, refused a paid credential. */
  "UPSTREAM_ERROR",
  /** No BTC/USD rate younger than 10 minutes, so a USDC price cannot be converted to sats. */
  "RATE_UNAVAILABLE",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The hint a caller gets when the failure itself carries none: every error result has a code, a
 * message and a hint. A Record over the closed union, so a new code cannot ship without one.
 */
export const DEFAULT_HINTS: Record<ErrorCode, string> = {
  INVALID_INPUT: "Check the arguments against the tool's input schema.",
  INVALID_INVOICE: "Pass a BOLT 11 payment request (lnbc…, lntb…, lnbcrt…); decode_invoice shows what it holds.",
  WRONG_NETWORK: "Ask the payee for an invoice on the wallet's network (get_info shows it).",
  INVOICE_EXPIRED: "Ask the payee for a new invoice.",
  AMOUNT_REQUIRED: "Pass amount_sats for an invoice without an amount.",
  AMOUNT_MISMATCH: "Check the amount against the invoice or the quoted price; nothing was paid.",
  AMOUNT_TOO_LARGE: "Raise max_payment_sats if the price is acceptable, or ask the operator for a higher limit.",
  BUDGET_EXCEEDED: "get_budget_status shows what is left under each limit.",
  INSUFFICIENT_BALANCE: "Ask the operator to fund this agent, or receive sats on an invoice.",
  ALREADY_PAID: "Nothing was paid again; get_transactions shows the first payment.",
  PAYMENT_FAILED: "Nothing was spent; check the invoice or ask the payee for a new one.",
  PAYMENT_PENDING: "Do not pay again; the outcome is reconciled, check get_transactions later.",
  PREIMAGE_MISMATCH: "Do not pay again; the sats stay reserved until the wallet proves the payment.",
  WALLET_UNAVAILABLE: "The operator's wallet did not answer; try again shortly.",
  WALLET_NOT_CONFIGURED: "The operator must configure this first (connect_wallet or configure_x402).",
  UNSUPPORTED: "get_info shows what the operator's wallet supports.",
  HOST_NOT_ALLOWED: "Ask the operator to add the host to allowed_hosts.",
  AGENT_DISABLED: "The operator can reactivate the agent.",
  UNAUTHORIZED: "Send a valid API key or OAuth token.",
  FORBIDDEN: "This credential may not do that; operators manage agents.",
  NOT_FOUND: "Check the id; list_agents and get_transactions show what exists.",
  RATE_LIMITED: "Wait for the window to pass; get_rate_limits shows the limits.",
  UNSUPPORTED_CHALLENGE: "The API asks for a payment Satchel cannot make; try dry_run to see what it offered.",
  INVALID_CHALLENGE: "The API's payment challenge contradicts itself; nothing was paid.",
  UPSTREAM_ERROR: "The paid API misbehaved; nothing more was paid. Try again later.",
  RATE_UNAVAILABLE: "No fresh BTC/USD rate; try again when the rate source answers.",
  INTERNAL: "Try again; if it persists, contact the operator.",
};

/** A failure with a stable code, a human message and a hint for the caller on what to do next. */
export class SatchelError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Extra machine-readable facts (e.g. the existing payment for ALREADY_PAID). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SatchelError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** Plain data that survives Durable Object RPC (which does not keep subclasses). */
  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** Rebuilds a SatchelError from its serialized form (the inverse of toJSON). */
export function fromSerialized(e: SerializedError): SatchelError {
  return new SatchelError(e.code, e.message, { hint: e.hint, details: e.details });
}
