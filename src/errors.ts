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
