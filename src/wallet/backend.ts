import type { ErrorCode } from "../errors";
import type { Network } from "../lightning/bolt11";
import type { Msat } from "../money";

/** Methods a backend may support; agents see them through get_info. */
export type WalletMethod =
  | "get_info"
  | "get_balance"
  | "make_invoice"
  | "pay_invoice"
  | "lookup_invoice"
  | "lookup_payment"
  | "keysend"
  | "list_transactions";

export interface WalletInfo {
  kind: "fake" | "nwc" | "lnbits";
  alias: string;
  network: Network;
  pubkey: string | null;
  methods: WalletMethod[];
  /** NWC: the encryption negotiated from the wallet's info event. */
  encryption?: "nip44_v2" | "nip04" | null;
  /** Notification types the wallet pushes (NWC), so incoming payments credit agents without polling. */
  notifications?: string[];
  /** LNbits: an invoice (read) key can receive but not pay. */
  canPay?: boolean;
}

export interface MadeInvoice {
  invoice: string;
  paymentHash: string;
  /** Known when the backend chose the preimage itself (the fake wallet; hold-invoice capable wallets). */
  preimage: string | null;
  expiresAt: number; // unix seconds
}

/**
 * What a payment attempt is known to have done. "pending" means unknown: the money may or may not
 * have moved, so the reservation must stay until a lookup says otherwise.
 */
export type PaymentOutcome =
  | { status: "succeeded"; preimage: string | null; feeMsat: Msat }
  | {
      status: "failed";
      reason: string;
      /** The Satchel code the wallet's refusal maps to (e.g. RATE_LIMITED); PAYMENT_FAILED when absent. */
      code?: ErrorCode;
    }
  | { status: "pending" };

export type InvoiceState =
  | { status: "open" }
  | { status: "paid"; preimage: string | null; amountMsat: Msat; settledAt: number }
  | { status: "expired" }
  | { status: "unknown" };

export interface PayInvoiceRequest {
  invoice: string;
  paymentHash: string;
  /** What will be paid: the invoice's amount, or the caller's for a zero-amount invoice. */
  amountMsat: Msat;
  /** True when the invoice carries no amount, so the backend must send amountMsat explicitly. */
  zeroAmount: boolean;
  /** The most routing fee the caller has reserved; a backend must not pay more. */
  feeLimitMsat: Msat;
}

/** A payment to a node without an invoice; Satchel picks the preimage, so the hash is known up front. */
export interface KeysendRequest {
  destination: string;
  amountMsat: Msat;
  preimage: string;
  paymentHash: string;
  /** Custom TLV records, values hex (e.g. 34349334: a text message). */
  tlvRecords: { type: number; value: string }[];
  feeLimitMsat: Msat;
}

/**
 * One interface over every wallet Satchel can drive (fake, NWC, LNbits). Amounts are msats.
 * Implementations throw only for failures that certainly moved no money; anything that may have
 * moved money is reported as a "pending" outcome.
 */
export interface WalletBackend {
  getInfo(): Promise<WalletInfo>;
  getBalance(): Promise<Msat>;
  makeInvoice(req: { amountMsat: Msat; description: string; expirySeconds: number }): Promise<MadeInvoice>;
  payInvoice(req: PayInvoiceRequest): Promise<PaymentOutcome>;
  lookupInvoice(paymentHash: string): Promise<InvoiceState>;
  /** The outcome of an earlier payInvoice, for reconciling payments whose outcome was unknown. */
  lookupPayment(paymentHash: string): Promise<PaymentOutcome | { status: "unknown" }>;
  /** Keysend, for backends that can send one (NWC pay_keysend); absent means UNSUPPORTED. */
  payKeysend?(req: KeysendRequest): Promise<PaymentOutcome>;
  /** The routing fee to reserve for a payment of this amount. */
  feeReserveMsat(amountMsat: Msat): Msat;
}
