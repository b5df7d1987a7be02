import { SatchelError, type ErrorCode } from "../errors";

/** What a wallet's refusal means for Satchel's caller, and what to do about it. */
interface Mapped {
  code: ErrorCode;
  hint: string;
}

/**
 * NIP-47 error codes (also used for LNbits refusals) → Satchel codes. Only codes that certainly
 * moved no money are here; INTERNAL, OTHER and anything unknown are treated as "outcome unknown"
 * for payments, and as WALLET_UNAVAILABLE for other calls.
 */
const NIP47: Readonly<Record<string, Mapped>> = {
  INSUFFICIENT_BALANCE: {
    code: "INSUFFICIENT_BALANCE",
    hint: "The operator's wallet does not hold enough sats for this payment and its fee. The operator must top up the wallet.",
  },
  QUOTA_EXCEEDED: {
    code: "BUDGET_EXCEEDED",
    hint: "The wallet connection's own budget (set in the wallet app) is used up. The operator can raise it there.",
  },
  RATE_LIMITED: { code: "RATE_LIMITED", hint: "The wallet is refusing requests for now. Try again in a minute." },
  RESTRICTED: {
    code: "FORBIDDEN",
    hint: "The wallet connection is not allowed to do this (method or amount restricted in the wallet app).",
  },
  UNAUTHORIZED: {
    code: "WALLET_NOT_CONFIGURED",
    hint: "The wallet no longer accepts this connection. The operator must reconnect it with connect_wallet.",
  },
  NOT_IMPLEMENTED: { code: "UNSUPPORTED", hint: "The operator's wallet does not support this method." },
  UNSUPPORTED_ENCRYPTION: {
    code: "UNSUPPORTED",
    hint: "The wallet speaks no encryption Satchel supports (NIP-44 v2 or NIP-04).",
  },
  PAYMENT_FAILED: {
    code: "PAYMENT_FAILED",
    hint: "Nothing was spent. The route may be missing or the invoice already paid; ask the payee for a new invoice.",
  },
  NOT_FOUND: { code: "NOT_FOUND", hint: "The wallet does not know this payment or invoice." },
};

/** The mapping of a wallet error code that certainly moved no money, or null when the outcome is unknown. */
export function mapWalletError(walletCode: string): Mapped | null {
  return NIP47[walletCode] ?? null;
}

/** A SatchelError for a wallet refusal on a call that moves no money (info, balance, invoices, lookups). */
export function walletError(walletCode: string, message: string): SatchelError {
  const m = mapWalletError(walletCode);
  return new SatchelError(
    m?.code ?? "WALLET_UNAVAILABLE",
    `The wallet answered ${walletCode}: ${message}`.slice(0, 300),
    {
      hint: m?.hint ?? "The operator's wallet had a problem; try again shortly.",
      details: { wallet_error: walletCode },
    },
  );
}

/** The hint for a failed payment whose entry carries this Satchel code. */
export function failureHint(code: ErrorCode): string | undefined {
  for (const m of Object.values(NIP47)) if (m.code === code) return m.hint;
  return undefined;
}

/** The wallet cannot be reached at all: nothing was sent. */
export function walletUnavailable(message: string): SatchelError {
  return new SatchelError("WALLET_UNAVAILABLE", message.slice(0, 300), {
    hint: "The operator's wallet (or its relays) could not be reached. Nothing was paid; try again shortly.",
  });
}
