/**
 * The LNbits backend (REST, X-Api-Key). An admin key pays; an invoice (read) key can only receive,
 * and paying then fails cleanly with FORBIDDEN before anything is sent. Reads both the current
 * response shapes (status: "success" | "pending" | "failed", bolt11) and the older ones (paid +
 * details.pending, payment_request).
 *
 * Outcome rules for a payment: a 4xx answer means LNbits refused it (nothing paid) → failed;
 * a 5xx, a timeout or a broken connection may have paid → pending, reconciled by payment hash.
 */
import { getConfig } from "../config";
import { SatchelError } from "../errors";
import { decodeInvoice } from "../lightning/bolt11";
import { msat, type Msat } from "../money";
import type {
  InvoiceState,
  MadeInvoice,
  PayInvoiceRequest,
  PaymentOutcome,
  WalletBackend,
  WalletInfo,
} from "./backend";
import { realWalletFeeReserve } from "./nwc";
import { walletUnavailable } from "./wallet-errors";

const READ_TIMEOUT_MS = 10_000;
const HEX64 = /^[0-9a-f]{64}$/;

type Json = Record<string, unknown>;

interface LnbitsResponse {
  status: number;
  body: Json | null;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? Math.round(v) : 0);
const preimageOf = (v: unknown): string | null =>
  typeof v === "string" && HEX64.test(v.toLowerCase()) && !/^0{64}$/.test(v) ? v.toLowerCase() : null;

/** LNbits' error text: `detail` (FastAPI) or `message`, kept short. */
function detailOf(body: Json | null): string {
  const d = body?.detail ?? body?.message;
  return (typeof d === "string" ? d : JSON.stringify(d ?? "")).slice(0, 200);
}

/** A payment's state across LNbits versions. */
function paymentState(body: Json): "success" | "pending" | "failed" {
  const details = (body.details && typeof body.details === "object" ? body.details : {}) as Json;
  const status = body.status ?? details.status;
  if (status === "success" || status === "complete") return "success";
  if (status === "failed") return "failed";
  if (status === "pending") return "pending";
  if (body.paid === true) return "success";
  // Older LNbits: paid false with details.pending false means it failed; otherwise still pending.
  if (body.paid === false && details.pending === false) return "failed";
  return "pending";
}

export class LnbitsWallet implements WalletBackend {
  private readonly base: string;

  constructor(
    private readonly env: Env,
    url: string,
    private readonly apiKey: string,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.base = url.replace(/\/+$/, "");
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    body: Json | undefined,
    timeoutMs: number,
  ): Promise<LnbitsResponse> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { "X-Api-Key": this.apiKey, accept: "application/json", "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: Json | null;
    try {
      const v = JSON.parse(text) as unknown;
      parsed = v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed };
  }

  /** A read that must succeed; maps LNbits' refusals to Satchel codes. */
  private async read(path: string): Promise<Json> {
    let r: LnbitsResponse;
    try {
      r = await this.request("GET", path, undefined, READ_TIMEOUT_MS);
    } catch {
      throw walletUnavailable("LNbits could not be reached.");
    }
    if (r.status === 401 || r.status === 403) throw keyRefused(detailOf(r.body));
    if (r.status === 404) throw new SatchelError("NOT_FOUND", "LNbits does not know this.", {});
    if (r.status >= 400 || !r.body) throw walletUnavailable(`LNbits answered ${r.status}: ${detailOf(r.body)}`);
    return r.body;
  }

  private async wallet(): Promise<Json> {
    return this.read("/api/v1/wallet");
  }

  async getInfo(): Promise<WalletInfo> {
    const w = await this.wallet();
    // LNbits shows the wallet id only to its admin key: that tells the two keys apart without paying.
    const canPay = typeof w.id === "string" && w.id.length > 0;
    return {
      kind: "lnbits",
      alias: typeof w.name === "string" && w.name ? `LNbits: ${w.name.slice(0, 80)}` : "LNbits wallet",
      network: getConfig(this.env).network,
      pubkey: null,
      methods: [
        "get_info",
        "get_balance",
        "make_invoice",
        ...(canPay ? (["pay_invoice", "lookup_payment"] as const) : []),
        "lookup_invoice",
      ],
      canPay,
    };
  }

  async getBalance(): Promise<Msat> {
    return msat(Math.max(0, num((await this.wallet()).balance)));
  }

  async makeInvoice(req: { amountMsat: Msat; description: string; expirySeconds: number }): Promise<MadeInvoice> {
    if (req.amountMsat % 1000 !== 0) {
      throw new SatchelError("INVALID_INPUT", "LNbits issues invoices in whole sats.");
    }
    let r: LnbitsResponse;
    try {
      r = await this.request(
        "POST",
        "/api/v1/payments",
        { out: false, amount: req.amountMsat / 1000, memo: req.description, expiry: req.expirySeconds, unit: "sat" },
        READ_TIMEOUT_MS,
      );
    } catch {
      throw walletUnavailable("LNbits could not be reached.");
    }
    if (r.status === 401 || r.status === 403) throw keyRefused(detailOf(r.body));
    if (r.status >= 400 || !r.body) throw walletUnavailable(`LNbits answered ${r.status}: ${detailOf(r.body)}`);
    const bolt11 = r.body.bolt11 ?? r.body.payment_request;
    if (typeof bolt11 !== "string") throw walletUnavailable("LNbits returned no invoice.");
    const inv = decodeInvoice(bolt11);
    if (inv.amountMsat !== req.amountMsat) throw walletUnavailable("LNbits returned an invoice for another amount.");
    return { invoice: inv.invoice, paymentHash: inv.paymentHash, preimage: null, expiresAt: inv.expiresAt };
  }

  async payInvoice(req: PayInvoiceRequest): Promise<PaymentOutcome> {
    if (req.zeroAmount) {
      return { status: "failed", reason: "LNbits cannot pay zero-amount invoices", code: "UNSUPPORTED" };
    }
    let r: LnbitsResponse;
    try {
      r = await this.request(
        "POST",
        "/api/v1/payments",
        { out: true, bolt11: req.invoice },
        getConfig(this.env).nwcReplyTimeoutMs,
      );
    } catch {
      return { status: "pending" };
    }
    if (r.status === 401 || r.status === 403) {
      return {
        status: "failed",
        reason: "this LNbits key can receive but not pay (an invoice key)",
        code: "FORBIDDEN",
      };
    }
    if (r.status >= 400 && r.status < 500) {
      const d = detailOf(r.body);
      const insufficient = /insufficient|not enough/i.test(d);
      return {
        status: "failed",
        reason: d || `LNbits refused the payment (${r.status})`,
        code: insufficient ? "INSUFFICIENT_BALANCE" : "PAYMENT_FAILED",
      };
    }
    if (r.status >= 500 || !r.body) return { status: "pending" };
    // Newer LNbits answer with the payment itself; older ones with the hash only, so look it up.
    if (typeof r.body.status === "string" && r.body.status !== "pending") {
      return this.outcomeOf(r.body);
    }
    return this.lookupPayment(req.paymentHash).then((o) => (o.status === "unknown" ? { status: "pending" } : o));
  }

  private outcomeOf(body: Json): PaymentOutcome {
    const state = paymentState(body);
    if (state === "failed") return { status: "failed", reason: "LNbits reports the payment failed" };
    if (state === "pending") return { status: "pending" };
    const details = (body.details && typeof body.details === "object" ? body.details : {}) as Json;
    const fee = Math.abs(num(body.fee ?? details.fee));
    return { status: "succeeded", preimage: preimageOf(body.preimage ?? details.preimage), feeMsat: msat(fee) };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    let body: Json;
    try {
      body = await this.read(`/api/v1/payments/${paymentHash}`);
    } catch (e) {
      if (e instanceof SatchelError && e.code === "NOT_FOUND") return { status: "unknown" };
      throw e;
    }
    const state = paymentState(body);
    const details = (body.details && typeof body.details === "object" ? body.details : {}) as Json;
    if (state === "success") {
      const paidAt = num(details.time ?? body.time);
      return {
        status: "paid",
        preimage: preimageOf(body.preimage ?? details.preimage),
        amountMsat: msat(Math.abs(num(details.amount ?? body.amount))),
        settledAt: paidAt > 1e12 ? Math.floor(paidAt / 1000) : paidAt || this.now(),
      };
    }
    if (state === "failed") return { status: "expired" };
    const expiry = num(details.expiry ?? body.expiry);
    return expiry > 0 && expiry <= this.now() ? { status: "expired" } : { status: "open" };
  }

  async lookupPayment(paymentHash: string): Promise<PaymentOutcome | { status: "unknown" }> {
    let r: LnbitsResponse;
    try {
      r = await this.request("GET", `/api/v1/payments/${paymentHash}`, undefined, READ_TIMEOUT_MS);
    } catch {
      return { status: "pending" };
    }
    if (r.status === 404) return { status: "unknown" };
    if (r.status >= 400 || !r.body) return { status: "pending" };
    return this.outcomeOf(r.body);
  }

  feeReserveMsat(amountMsat: Msat): Msat {
    return realWalletFeeReserve(this.env, amountMsat);
  }
}

function keyRefused(detail: string): SatchelError {
  return new SatchelError("WALLET_NOT_CONFIGURED", `LNbits refused the API key${detail ? `: ${detail}` : ""}.`, {
    hint: "The operator must reconnect the wallet with a valid LNbits key (connect_wallet).",
  });
}
