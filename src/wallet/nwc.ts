/**
 * The Nostr Wallet Connect backend (NIP-47). The wallet talks over relays through an NwcTransport:
 * in the Worker, the operator's OperatorDesk Durable Object (one warm connection for every agent of
 * the operator, and payment notifications). The outcome rules:
 *
 * - a wallet error that certainly moved no money → failed, with its Satchel code;
 * - no reply in time, INTERNAL/OTHER, or a dropped relay after the request left → pending: the
 *   ledger keeps the reservation and reconciles with lookup_invoice, never pays again blindly;
 * - no relay reachable before anything was sent → failed (WALLET_UNAVAILABLE).
 */
import { getConfig } from "../config";
import { SatchelError } from "../errors";
import { decodeInvoice, type Network } from "../lightning/bolt11";
import { msat, type Msat } from "../money";
import type {
  InvoiceState,
  KeysendRequest,
  MadeInvoice,
  PayInvoiceRequest,
  PaymentOutcome,
  WalletBackend,
  WalletInfo,
  WalletMethod,
} from "./backend";
import {
  NwcClient,
  NwcTimeoutError,
  NwcUnavailableError,
  NwcWalletError,
  pickEncryption,
  type NwcServiceInfo,
} from "./nwc-client";
import { mapWalletError, walletError, walletUnavailable } from "./wallet-errors";

/** The outcome of one NIP-47 call as plain data, so it crosses Durable Object RPC unchanged. */
export type NwcCallResult =
  | { ok: true; result: Record<string, unknown> }
  | { ok: false; error: "wallet"; code: string; message: string }
  | { ok: false; error: "timeout" }
  | { ok: false; error: "unavailable"; message: string };

export type NwcDescribeResult =
  | { ok: true; info: NwcServiceInfo; encryption: "nip44_v2" | "nip04" | null; connects: number }
  | { ok: false; message: string };

/** How NwcWallet reaches the wallet: a session Durable Object, or a client of its own. */
export interface NwcTransport {
  call(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<NwcCallResult>;
  describe(): Promise<NwcDescribeResult>;
}

/** Runs one request on a client and turns its errors into data. */
export async function callClient(
  client: NwcClient,
  method: string,
  params: Record<string, unknown>,
  timeoutMs: number,
): Promise<NwcCallResult> {
  try {
    return { ok: true, result: await client.request(method, params, timeoutMs) };
  } catch (e) {
    if (e instanceof NwcWalletError) return { ok: false, error: "wallet", code: e.code, message: e.message };
    if (e instanceof NwcUnavailableError) return { ok: false, error: "unavailable", message: e.message };
    if (e instanceof NwcTimeoutError) {
      return e.sent ? { ok: false, error: "timeout" } : { ok: false, error: "unavailable", message: e.message };
    }
    // Anything else (a socket error mid-request) may have happened after the request left.
    return { ok: false, error: "timeout" };
  }
}

export async function describeClient(client: NwcClient): Promise<NwcDescribeResult> {
  try {
    const info = await client.serviceInfo();
    return { ok: true, info, encryption: pickEncryption(info), connects: client.connects };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message.slice(0, 200) : "unknown error" };
  }
}

/** Lookups and other calls that move no money wait this long at most. */
const READ_TIMEOUT_MS = 10_000;
const HEX64 = /^[0-9a-f]{64}$/;

const METHOD_MAP: Readonly<Record<string, WalletMethod[]>> = {
  get_info: ["get_info"],
  get_balance: ["get_balance"],
  make_invoice: ["make_invoice"],
  pay_invoice: ["pay_invoice"],
  lookup_invoice: ["lookup_invoice", "lookup_payment"],
  pay_keysend: ["keysend"],
  list_transactions: ["list_transactions"],
};

const NETWORKS: Readonly<Record<string, Network>> = {
  mainnet: "bitcoin",
  bitcoin: "bitcoin",
  testnet: "testnet",
  testnet3: "testnet",
  testnet4: "testnet",
  signet: "signet",
  regtest: "regtest",
};

/** The fee to hold back for a payment over a real wallet: ppm of the amount, at least the floor. */
export function realWalletFeeReserve(env: Env, amountMsat: Msat): Msat {
  const c = getConfig(env);
  return msat(Math.max(c.walletFeeReserveMinMsat, Math.ceil((amountMsat * c.walletFeeReservePpm) / 1_000_000)));
}

/** A NIP-47 transaction as wallets send it; every field may be missing in older wallets. */
interface NwcTx {
  type?: unknown;
  state?: unknown;
  invoice?: unknown;
  preimage?: unknown;
  payment_hash?: unknown;
  amount?: unknown;
  fees_paid?: unknown;
  settled_at?: unknown;
  expires_at?: unknown;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);
const preimageOf = (v: unknown): string | null =>
  typeof v === "string" && HEX64.test(v.toLowerCase()) ? v.toLowerCase() : null;

/** A transaction's state; older wallets send no `state`, only settled_at / preimage. */
function txState(tx: NwcTx): "settled" | "pending" | "failed" | "expired" {
  if (tx.state === "settled" || tx.state === "pending" || tx.state === "failed" || tx.state === "expired") {
    return tx.state;
  }
  if (tx.state === "accepted") return "pending";
  return num(tx.settled_at) > 0 || preimageOf(tx.preimage) ? "settled" : "pending";
}

/** The Satchel WalletBackend over NIP-47. */
export class NwcWallet implements WalletBackend {
  constructor(
    private readonly env: Env,
    private readonly transport: NwcTransport,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  private async read(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const r = await this.transport.call(method, params, READ_TIMEOUT_MS);
    if (r.ok) return r.result;
    if (r.error === "wallet") throw walletError(r.code, r.message);
    if (r.error === "unavailable") throw walletUnavailable(r.message);
    throw new SatchelError("WALLET_UNAVAILABLE", `The wallet did not answer ${method} in time.`, {
      hint: "The operator's wallet may be offline. Try again shortly.",
    });
  }

  async getInfo(): Promise<WalletInfo> {
    const d = await this.transport.describe();
    if (!d.ok) throw walletUnavailable(d.message);
    const methods = new Set<WalletMethod>();
    for (const m of d.info.methods) for (const w of METHOD_MAP[m] ?? []) methods.add(w);
    let alias = "NWC wallet";
    let pubkey: string | null = null;
    let network: Network = getConfig(this.env).network;
    if (d.info.methods.includes("get_info")) {
      const info = await this.read("get_info");
      if (typeof info.alias === "string" && info.alias.length > 0) alias = info.alias.slice(0, 100);
      if (typeof info.pubkey === "string" && /^[0-9a-f]{66}$/i.test(info.pubkey)) pubkey = info.pubkey.toLowerCase();
      if (typeof info.network === "string") network = NETWORKS[info.network.toLowerCase()] ?? network;
      // get_info's own list is authoritative when present (the info event may be stale).
      if (Array.isArray(info.methods)) {
        methods.clear();
        methods.add("get_info");
        for (const m of info.methods) if (typeof m === "string") for (const w of METHOD_MAP[m] ?? []) methods.add(w);
      }
    }
    return {
      kind: "nwc",
      alias,
      network,
      pubkey,
      methods: [...methods],
      encryption: d.encryption,
      notifications: d.info.notifications,
    };
  }

  async getBalance(): Promise<Msat> {
    const r = await this.read("get_balance");
    return msat(num(r.balance));
  }

  async makeInvoice(req: { amountMsat: Msat; description: string; expirySeconds: number }): Promise<MadeInvoice> {
    const r = await this.read("make_invoice", {
      amount: req.amountMsat,
      description: req.description,
      expiry: req.expirySeconds,
    });
    if (typeof r.invoice !== "string") throw walletError("OTHER", "make_invoice returned no invoice");
    const inv = decodeInvoice(r.invoice);
    // The wallet's word is checked against the invoice itself: the hash and amount we record must be real.
    if (inv.amountMsat !== req.amountMsat)
      throw walletError("OTHER", "make_invoice returned an invoice for another amount");
    if (typeof r.payment_hash === "string" && r.payment_hash.toLowerCase() !== inv.paymentHash) {
      throw walletError("OTHER", "make_invoice returned a payment hash that does not match its invoice");
    }
    return { invoice: inv.invoice, paymentHash: inv.paymentHash, preimage: null, expiresAt: inv.expiresAt };
  }

  async payInvoice(req: PayInvoiceRequest): Promise<PaymentOutcome> {
    return this.pay("pay_invoice", { invoice: req.invoice, ...(req.zeroAmount ? { amount: req.amountMsat } : {}) });
  }

  async payKeysend(req: KeysendRequest): Promise<PaymentOutcome> {
    return this.pay("pay_keysend", {
      amount: req.amountMsat,
      pubkey: req.destination,
      preimage: req.preimage,
      ...(req.tlvRecords.length > 0 ? { tlv_records: req.tlvRecords } : {}),
    });
  }

  private async pay(method: "pay_invoice" | "pay_keysend", params: Record<string, unknown>): Promise<PaymentOutcome> {
    const r = await this.transport.call(method, params, getConfig(this.env).nwcReplyTimeoutMs);
    if (r.ok) {
      const preimage = preimageOf(r.result.preimage);
      if (preimage === null) {
        // Some wallets answer success without proof. The payment counts (the wallet says it went),
        // but the caller gets preimage null: L402 and anything else needing proof cannot work.
        console.warn("NWC wallet reported a payment without a preimage", { method });
      }
      return { status: "succeeded", preimage, feeMsat: msat(num(r.result.fees_paid)) };
    }
    if (r.error === "unavailable") return { status: "failed", reason: r.message, code: "WALLET_UNAVAILABLE" };
    if (r.error === "wallet") {
      const mapped = mapWalletError(r.code);
      if (mapped) return { status: "failed", reason: `${r.code}: ${r.message}`, code: mapped.code };
    }
    return { status: "pending" };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    const r = await this.transport.call("lookup_invoice", { payment_hash: paymentHash }, READ_TIMEOUT_MS);
    if (!r.ok) {
      if (r.error === "wallet" && r.code === "NOT_FOUND") return { status: "unknown" };
      if (r.error === "wallet") throw walletError(r.code, r.message);
      throw walletUnavailable(
        r.error === "unavailable" ? r.message : "The wallet did not answer lookup_invoice in time.",
      );
    }
    const tx = r.result as NwcTx;
    const state = txState(tx);
    if (state === "settled") {
      return {
        status: "paid",
        preimage: preimageOf(tx.preimage),
        amountMsat: msat(num(tx.amount)),
        settledAt: num(tx.settled_at) || this.now(),
      };
    }
    if (state === "expired" || state === "failed") return { status: "expired" };
    const expiresAt = num(tx.expires_at);
    return expiresAt > 0 && expiresAt <= this.now() ? { status: "expired" } : { status: "open" };
  }

  async lookupPayment(paymentHash: string): Promise<PaymentOutcome | { status: "unknown" }> {
    const r = await this.transport.call("lookup_invoice", { payment_hash: paymentHash }, READ_TIMEOUT_MS);
    if (!r.ok) {
      if (r.error === "wallet" && r.code === "NOT_FOUND") return { status: "unknown" };
      // Unreachable is not "unknown": the wallet may well have paid. Keep it pending.
      return { status: "pending" };
    }
    const tx = r.result as NwcTx;
    if (tx.type === "incoming") return { status: "unknown" };
    const state = txState(tx);
    if (state === "settled") {
      return { status: "succeeded", preimage: preimageOf(tx.preimage), feeMsat: msat(num(tx.fees_paid)) };
    }
    if (state === "failed" || state === "expired")
      return { status: "failed", reason: `the wallet reports the payment ${state}` };
    return { status: "pending" };
  }

  feeReserveMsat(amountMsat: Msat): Msat {
    return realWalletFeeReserve(this.env, amountMsat);
  }
}
