// X402: v1 (JSON body with `accepts`, credential in X-PAYMENT) and v2 (PAYMENT-REQUIRED header,
// credential in PAYMENT-SIGNATURE, settlement in PAYMENT-RESPONSE). Two schemes are paid:
// `exact` on Base / Base Sepolia in USDC, signed with the operator's EVM key (src/paywall/evm.ts),
// and the Lightning variant of `exact` (network bip122:…, invoice in the requirements), paid over
// Lightning like L402. The agent always pays in sats.
import { SatchelError } from "../errors";
import { decodeInvoice, isExpired, type DecodedInvoice } from "../lightning/bolt11";
import { preimageMatches } from "../lightning/preimage";
import { base64ToBytes, bytesToBase64 } from "./macaroon";
import { payEvm, quoteEvm } from "./evm";
import { caip2Of } from "./evm-key";
import type { FetchedResponse, RequestSpec } from "./http";
import type { PaymentProtocol } from "./pay";
import type { PaymentView } from "../ledger/views";
import type { ExternalReserveRequest } from "../ledger/agent-ledger";

/** One entry of `accepts`, normalised across v1 and v2. */
export interface X402Requirement {
  scheme: string;
  network: string;
  /** Atomic units of the asset (USDC: 6 decimals; Lightning: msats). */
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra: Record<string, unknown>;
  /** As the server sent it, echoed back in the payload. */
  raw: Record<string, unknown>;
}

export interface X402Offer {
  version: 1 | 2;
  /** The decoded PAYMENT-REQUIRED (v2) or body (v1). */
  paymentRequired: Record<string, unknown>;
  accepts: X402Requirement[];
  /** True when a Lightning option exists (it is preferred: no conversion, no EVM key). */
  lightning: boolean;
}

export interface X402Quote {
  offer: X402Offer;
  requirement: X402Requirement;
  protocol: "x402" | "x402-lightning";
  priceMsat: number | null;
  invoice: DecodedInvoice | null;
  usdcAmount: string | null;
  btcUsd: number | null;
  spreadPercent: number | null;
  /** Why it would not be paid (dry_run reports it; a real call throws it). */
  refusal: SatchelError | null;
}

/** A quote of one requirement with nothing priced yet; the quoting code fills in what it learns. */
export function blankQuote(offer: X402Offer, requirement: X402Requirement, protocol: X402Quote["protocol"]): X402Quote {
  return {
    offer,
    requirement,
    protocol,
    priceMsat: null,
    invoice: null,
    usdcAmount: null,
    btcUsd: null,
    spreadPercent: null,
    refusal: null,
  };
}

/** What an X402 USDC payment reserves; the flow adds the caller's limits and session. */
export type ExternalPayment = Pick<
  ExternalReserveRequest,
  "paymentHash" | "amountMsat" | "expiresAt" | "reference" | "memo"
> & { host: string };

export interface X402Paid {
  response: FetchedResponse;
  protocol: "x402" | "x402-lightning";
  usdcAmount: string | null;
  btcUsd: number | null;
  spreadPercent: number | null;
}

/** What pay.ts lends this module: paying a checked invoice and sending a paid request. */
export interface X402Host {
  ctx: { env: Env; agentId: string; operatorId: string; sessionId: string; sessionLimitMsat?: number };
  req: { method: string; idempotencyKey?: string };
  maxMsat: number;
  spec: RequestSpec;
  payInvoice(inv: DecodedInvoice, memo: string, host: string): Promise<{ entry: { preimage: string | null } }>;
  /** tries.count ends as the number of attempts (a network failure is retried with the same credential). */
  sendPaid(at: URL, spec: RequestSpec, tries?: { count: number }): Promise<FetchedResponse>;
  /** Reserves sats for a payment outside the wallet (X402 over USDC); see AgentLedger.reserveExternal. */
  reserveExternal(p: ExternalPayment): Promise<{ paymentId: string }>;
  /** Spends (succeeded) or releases (failed) what reserveExternal reserved. */
  settleExternal(paymentId: string, outcome: "succeeded" | "failed", reason?: string): Promise<PaymentView>;
}

/** Bound on a decoded PAYMENT-REQUIRED or v1 body. */
const MAX_REQUIRED_CHARS = 65_536;

function decodeJsonBase64(s: string): unknown {
  return JSON.parse(new TextDecoder().decode(base64ToBytes(s.trim())));
}

export function encodeJsonBase64(v: unknown): string {
  return bytesToBase64(new TextEncoder().encode(JSON.stringify(v)));
}

function normalise(raw: unknown): X402Requirement | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const amount = r.amount ?? r.maxAmountRequired;
  if (typeof r.scheme !== "string" || typeof r.network !== "string") return null;
  if (typeof amount !== "string" && typeof amount !== "number") return null;
  return {
    scheme: r.scheme,
    network: r.network,
    amount: String(amount),
    asset: typeof r.asset === "string" ? r.asset : "",
    payTo: typeof r.payTo === "string" ? r.payTo : "",
    maxTimeoutSeconds: typeof r.maxTimeoutSeconds === "number" ? r.maxTimeoutSeconds : 60,
    extra: typeof r.extra === "object" && r.extra !== null ? (r.extra as Record<string, unknown>) : {},
    raw: r,
  };
}

/** Lightning `exact`: a bip122 network or a lightning payment method, with an invoice in extra. */
export function isLightning(r: X402Requirement): boolean {
  return (
    (r.network.startsWith("bip122:") || r.network === "lightning" || r.extra.paymentMethod === "lightning") &&
    typeof r.extra.invoice === "string"
  );
}

/** Reads an X402 offer from a 402 answer (v2 header first, else a v1 JSON body); null when there is none. */
export function detectX402(res: FetchedResponse): X402Offer | null {
  let parsed: unknown = null;
  let version: 1 | 2 = 2;
  const header = res.headers.get("payment-required");
  if (header && header.length <= MAX_REQUIRED_CHARS) {
    try {
      parsed = decodeJsonBase64(header);
    } catch {
      parsed = null;
    }
  }
  if (parsed === null && res.body.byteLength > 0 && res.body.byteLength <= MAX_REQUIRED_CHARS) {
    try {
      const body = JSON.parse(new TextDecoder().decode(res.body)) as unknown;
      if (typeof body === "object" && body !== null && "accepts" in body) {
        parsed = body;
        version = (body as { x402Version?: unknown }).x402Version === 2 ? 2 : 1;
      }
    } catch {
      parsed = null;
    }
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const pr = parsed as Record<string, unknown>;
  if (!Array.isArray(pr.accepts)) return null;
  if (header) version = pr.x402Version === 1 ? 1 : 2;
  const accepts = pr.accepts
    .slice(0, 20)
    .map(normalise)
    .filter((r): r is X402Requirement => r !== null);
  if (accepts.length === 0) return null;
  return { version, paymentRequired: pr, accepts, lightning: accepts.some(isLightning) };
}

function refuse(code: "UNSUPPORTED_CHALLENGE" | "AMOUNT_MISMATCH", message: string): SatchelError {
  return new SatchelError(code, message, { hint: "Nothing was paid." });
}

/** Chooses what to pay and at what price in sats; checks the Lightning option like an L402 challenge. */
export async function quoteX402(host: X402Host, offer: X402Offer, network: string): Promise<X402Quote> {
  const ln = offer.accepts.find(isLightning);
  if (ln) {
    const base = blankQuote(offer, ln, "x402-lightning");
    let inv: DecodedInvoice;
    try {
      inv = decodeInvoice(String(ln.extra.invoice));
    } catch (e) {
      return { ...base, refusal: e as SatchelError };
    }
    const priceMsat = inv.amountMsat;
    let refusal: SatchelError | null = null;
    if (inv.network !== network) refusal = new SatchelError("WRONG_NETWORK", `The invoice is for ${inv.network}.`);
    else if (priceMsat === null) refusal = new SatchelError("AMOUNT_REQUIRED", "The invoice has no amount.");
    else if (String(priceMsat) !== ln.amount.trim()) {
      refusal = refuse(
        "AMOUNT_MISMATCH",
        `The invoice asks ${priceMsat} msat but the requirements quote ${ln.amount.slice(0, 40)}.`,
      );
    } else if (isExpired(inv, Math.floor(Date.now() / 1000))) {
      refusal = new SatchelError("INVOICE_EXPIRED", "The paywall's invoice has already expired.");
    } else if (priceMsat > host.maxMsat) {
      refusal = new SatchelError(
        "AMOUNT_TOO_LARGE",
        `The API asks ${Math.ceil(priceMsat / 1000)} sats, above max_payment_sats ${Math.floor(host.maxMsat / 1000)}.`,
        { details: { limit: "max_payment_sats", price_sats: Math.ceil(priceMsat / 1000) } },
      );
    }
    return { ...base, priceMsat, invoice: inv, refusal };
  }
  const evm = offer.accepts.filter((r) => r.scheme === "exact" && caip2Of(r.network) !== null);
  if (evm.length === 0) {
    return {
      ...blankQuote(offer, offer.accepts[0]!, "x402"),
      refusal: refuse(
        "UNSUPPORTED_CHALLENGE",
        `No X402 option Satchel can pay (offered: ${offer.accepts
          .map((r) => `${r.scheme}@${r.network}`)
          .join(", ")
          .slice(0, 200)}).`,
      ),
    };
  }
  return quoteEvm(host, offer, evm);
}

/** Pays a quoted X402 offer and sends the request again with the credential. */
export async function payX402(host: X402Host, res: FetchedResponse, quote: X402Quote): Promise<X402Paid> {
  if (quote.refusal) throw quote.refusal;
  if (quote.protocol === "x402") return payEvm(host, res, quote);
  const at = res.url;
  const inv = quote.invoice!;
  const view = await host.payInvoice(inv, `X402 ${host.req.method} ${at.pathname}`, at.host);
  const preimage = view.entry.preimage;
  if (!preimage || !preimageMatches(preimage, inv.paymentHash)) {
    throw new SatchelError("PREIMAGE_MISMATCH", "The payment returned no valid preimage.", {
      hint: "Do not pay again; check get_transactions.",
    });
  }
  const r = quote.requirement;
  const payload =
    quote.offer.version === 1
      ? { x402Version: 1, scheme: r.scheme, network: r.network, payload: { invoice: inv.invoice, preimage } }
      : {
          x402Version: 2,
          ...(quote.offer.paymentRequired.resource ? { resource: quote.offer.paymentRequired.resource } : {}),
          accepted: r.raw,
          scheme: r.scheme,
          network: r.network,
          payload: { invoice: inv.invoice, preimage },
        };
  const headerName = quote.offer.version === 1 ? "x-payment" : "payment-signature";
  const response = await host.sendPaid(at, {
    ...host.spec,
    headers: { ...host.spec.headers, [headerName]: encodeJsonBase64(payload) },
  });
  if (response.status === 402) {
    throw new SatchelError("UPSTREAM_ERROR", "The API refused the X402 payment Satchel made.", {
      hint: "The invoice was paid (see details); nothing more was paid.",
      details: { reason: "paid_credential_refused" },
    });
  }
  return { response, protocol: "x402-lightning", usdcAmount: null, btcUsd: null, spreadPercent: null };
}

export type { PaymentProtocol };
