// pay_l402_api: request a URL; on 402 detect the protocol (L402 wins over X402), check the challenge
// before paying, pay through the agent's ledger, verify the preimage, retry with the credential.
// Tokens are cached per agent and origin in the ledger and reused until the server refuses them.
import { waitUntil } from "cloudflare:workers";
import { getConfig } from "../config";
import { fromSerialized, SatchelError, type SerializedError } from "../errors";
import { newId } from "../ids";
import { call, ledgerStub, payThroughLedger } from "../ledger/client";
import { hostAllowed } from "../ledger/policy";
import type { AgentSnapshot, PaymentView } from "../ledger/views";
import { decodeInvoice, isExpired, type DecodedInvoice } from "../lightning/bolt11";
import { preimageMatches } from "../lightning/preimage";
import { checkUrl, DEFAULT_LIMITS, HttpSession, type FetchedResponse, type HttpLimits, type RequestSpec } from "./http";
import {
  l402Authorization,
  mentionsL402,
  parseL402Challenges,
  pickL402Challenge,
  tokenPaymentHash,
  type L402Challenge,
} from "./l402";
import { showBody, shownHeaders, type ShownBody } from "./response";
import { claimKey, recordCall, releaseKey, type CallOutcome, type PaywallCallRow } from "./store";
import {
  detectX402,
  payX402,
  quoteX402,
  type ExternalPayment,
  type X402Offer,
  type X402Paid,
  type X402Quote,
} from "./x402";

/** Without a per-payment limit on the agent and no max_payment_sats, a paywall may ask at most this. */
export const DEFAULT_MAX_PAYMENT_SATS = 1000;
/** A paid request that fails on the network is sent again with the same credential this many times. */
const PAID_RETRIES = 2;

export type PaymentProtocol = "l402" | "x402" | "x402-lightning";

export interface PayApiRequest {
  url: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers: Record<string, string>;
  body?: string;
  maxPaymentSats?: number;
  idempotencyKey?: string;
  dryRun: boolean;
}

export interface PayContext {
  env: Env;
  agentId: string;
  operatorId: string;
  sessionId: string;
  /** A per-connection cap (OAuth grant), in msats. */
  sessionLimitMsat?: number;
}

/** The caller's session and, for an OAuth connection, its cap: carried by every spending call to the ledger. */
function spending(ctx: PayContext): { sessionId: string; sessionLimitMsat?: number } {
  return {
    sessionId: ctx.sessionId,
    ...(ctx.sessionLimitMsat === undefined ? {} : { sessionLimitMsat: ctx.sessionLimitMsat }),
  };
}

export interface PayApiResult extends ShownBody {
  url: string;
  status: number;
  headers: Record<string, string>;
  dry_run: boolean;
  paid: boolean;
  payment_protocol: PaymentProtocol | null;
  token_reused: boolean;
  price_sats: number | null;
  would_pay: boolean | null;
  refusal: { code: string; message: string } | null;
  amount_sats: number;
  fee_sats: number;
  total_sats: number;
  payment_id: string | null;
  payment_hash: string | null;
  preimage: string | null;
  budget_remaining_sats: number;
  usdc_amount: string | null;
  btc_usd_rate: number | null;
  spread_percent: number | null;
  replayed: boolean;
}

/** Calls paying for one agent and origin in this isolate; others wait for them and reuse the token. */
const inflight = new Map<string, Promise<void>>();
/**
 * How many credentials this isolate has cached per agent and origin. A call that saw the count
 * unchanged since it read the token cache knows no call here paid meanwhile, and skips re-reading it.
 */
const cachedCount = new Map<string, number>();

const sats = (msatAmount: number) => Math.ceil(msatAmount / 1000);
const satsFloor = (msatAmount: number) => Math.floor(msatAmount / 1000);

/** The flow of pay_l402_api. limits is for tests; tools use the defaults. */
export async function payApi(
  ctx: PayContext,
  req: PayApiRequest,
  opts: { limits?: Partial<HttpLimits> } = {},
): Promise<PayApiResult> {
  const config = getConfig(ctx.env);
  const url = checkUrl(req.url, config.development);
  const ledger = ledgerStub(ctx.env, ctx.agentId);
  // Both reads at once: the token cache is only used after the policy checks below pass.
  const cacheKey = `${ctx.agentId} ${url.origin}`;
  const cachedBefore = cachedCount.get(cacheKey) ?? 0;
  // One ledger call: the policy and headroom, and the origin's cached credential (used only after the policy checks).
  const { snapshot: snap, token: cachedToken } = await call(
    ledger.getSnapshotAndToken(ctx.sessionId, req.dryRun ? null : url.origin, ctx.sessionLimitMsat),
  );
  if (snap.status !== "active") {
    throw new SatchelError("AGENT_DISABLED", "This agent is disabled; it cannot call paid APIs.", {
      hint: "The operator can reactivate it.",
    });
  }
  const allowHost = (host: string) => {
    if (!hostAllowed(snap.policy, host)) {
      throw new SatchelError("HOST_NOT_ALLOWED", `This agent may not call ${host}.`, {
        hint: "Ask the operator to add the host to allowed_hosts.",
        details: { host },
      });
    }
  };
  allowHost(url.host);
  const maxMsat =
    req.maxPaymentSats !== undefined
      ? req.maxPaymentSats * 1000
      : (snap.policy.maxPerPaymentMsat ?? DEFAULT_MAX_PAYMENT_SATS * 1000);

  const now = Date.now();
  const row: PaywallCallRow = {
    id: newId("ent").replace(/^ent_/, "pwc_"),
    agent_id: ctx.agentId,
    operator_id: ctx.operatorId,
    idempotency_key: req.idempotencyKey ?? null,
    method: req.method,
    host: url.host,
    path: url.pathname.slice(0, 512),
    protocol: null,
    outcome: "in_progress",
    http_status: null,
    payment_id: null,
    payment_hash: null,
    amount_msat: 0,
    fee_msat: 0,
    usdc_amount: null,
    btc_usd: null,
    error_code: null,
    result_json: null,
    created_at: now,
    updated_at: now,
  };
  if (req.idempotencyKey && !req.dryRun) {
    const prior = await claimKey(ctx.env.DB, row, now);
    if (prior) {
      if (prior.result_json) {
        const first = JSON.parse(prior.result_json) as PayApiResult | { error: SerializedError };
        if ("error" in first) throw fromSerialized(first.error);
        return { ...first, replayed: true };
      }
      throw new SatchelError("PAYMENT_PENDING", "A call with this idempotency_key is still in progress.", {
        hint: "Call again with the same idempotency_key shortly to read its result; do not use a new key.",
      });
    }
  }

  const flow = new Flow(ctx, req, url, snap, maxMsat, row, {
    ...DEFAULT_LIMITS,
    ...opts.limits,
  });
  flow.cachedToken = cachedToken;
  flow.cachedBefore = cachedBefore;
  try {
    const result = await flow.run();
    if (!req.dryRun && (req.idempotencyKey || flow.attempted)) {
      row.outcome = flow.outcome;
      row.http_status = result.status;
      row.updated_at = Date.now();
      if (req.idempotencyKey) {
        // A repeat of the key reads this row: written before the answer.
        row.result_json = JSON.stringify(result);
        await recordCall(ctx.env.DB, row);
      } else {
        // The HTTP-side record only (the payment itself is journaled by the ledger): off the answer's path.
        afterResponse(recordCall(ctx.env.DB, row), "could not record paid call");
      }
    }
    return result;
  } catch (e) {
    const err = flow.withPayment(e);
    if (req.dryRun) throw err;
    row.error_code = err.code;
    row.updated_at = Date.now();
    const moneyMayHaveMoved =
      flow.paidView !== null ||
      (flow.payAttempted && (err.code === "PAYMENT_PENDING" || err.code === "PREIMAGE_MISMATCH"));
    if (moneyMayHaveMoved) {
      // The key keeps this outcome, so a repeat returns it instead of paying again.
      row.outcome = flow.paidView ? "upstream_error" : "failed";
      if (req.idempotencyKey) {
        row.result_json = JSON.stringify({ error: err.toJSON() });
        await recordCall(ctx.env.DB, row).catch((w: unknown) => logWarn("could not record paid call", w));
      } else {
        afterResponse(recordCall(ctx.env.DB, row), "could not record paid call");
      }
    } else {
      if (req.idempotencyKey) {
        await releaseKey(ctx.env.DB, row.id).catch((w: unknown) => logWarn("could not release key", w));
      }
      if (flow.attempted) {
        row.outcome = err.code === "PAYMENT_FAILED" ? "failed" : "refused";
        afterResponse(
          recordCall(ctx.env.DB, { ...row, id: `${row.id}_r`, idempotency_key: null }),
          "could not record refused call",
        );
      }
    }
    throw err;
  } finally {
    flow.close();
  }
}

/** Records being written after the answer went out (waitUntil), for recordsWritten. */
const pendingRecords = new Set<Promise<void>>();

/** Finishes a write after the tool has answered; a failure is logged, never thrown. */
function afterResponse(p: Promise<void>, failure: string): void {
  const q = p.catch((w: unknown) => logWarn(failure, w));
  pendingRecords.add(q);
  void q.finally(() => pendingRecords.delete(q));
  waitUntil(q);
}

/** Test hook: resolves once every paywall_calls row written after an answer is in D1. */
export async function recordsWritten(): Promise<void> {
  await Promise.all([...pendingRecords]);
}

function logWarn(msg: string, e: unknown): void {
  console.warn(msg, { error: e instanceof Error ? e.name : "unknown" });
}

/** One call's state: the HTTP session, what was paid, and how it ended. */
class Flow {
  readonly http: HttpSession;
  readonly origin: string;
  readonly spec: RequestSpec;
  readonly ledger: ReturnType<typeof ledgerStub>;
  /** True once a challenge was read (so the call is recorded whatever happens next). */
  attempted = false;
  /** True once the ledger was asked to pay: from then on an unknown outcome may have moved money. */
  payAttempted = false;
  outcome: CallOutcome = "free";
  paidView: PaymentView | null = null;
  credential: string | null = null;
  x402: X402Paid | null = null;
  /** The origin's cached credential, read together with the policy. */
  cachedToken: { token: string } | null = null;
  /** cachedCount for this agent and origin when the token cache was read. */
  cachedBefore = 0;

  constructor(
    readonly ctx: PayContext,
    readonly req: PayApiRequest,
    readonly url: URL,
    readonly snap: AgentSnapshot,
    readonly maxMsat: number,
    readonly row: PaywallCallRow,
    limits: HttpLimits,
  ) {
    const config = getConfig(ctx.env);
    this.http = new HttpSession(limits, config.development, (host) => {
      if (!hostAllowed(snap.policy, host)) {
        throw new SatchelError("HOST_NOT_ALLOWED", `This agent may not call ${host} (reached by a redirect).`, {
          hint: "Ask the operator to add the host to allowed_hosts.",
          details: { host },
        });
      }
    });
    this.origin = url.origin;
    this.spec = { method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) };
    this.ledger = ledgerStub(ctx.env, ctx.agentId);
  }

  close(): void {
    this.http.close();
  }

  private withAuth(value: string): RequestSpec {
    return { ...this.spec, headers: { ...this.spec.headers, authorization: value } };
  }

  async run(): Promise<PayApiResult> {
    const cached = this.cachedToken;
    let res: FetchedResponse;
    let refused: string | null = null;
    if (cached) {
      res = await this.http.send(this.url, this.withAuth(cached.token));
      if (res.status !== 402) {
        this.outcome = "token_reused";
        return this.result(res, { tokenReused: true });
      }
      // Refused: forget it; the new challenge goes through every check like any other.
      await this.ledger.dropToken(this.origin, cached.token);
      refused = cached.token;
    } else {
      res = await this.http.send(this.url, this.spec);
    }
    if (res.status !== 402) return this.result(res, {});
    return this.onPaymentRequired(res, refused);
  }

  private async onPaymentRequired(res: FetchedResponse, refused: string | null): Promise<PayApiResult> {
    this.attempted = true;
    const offer = detectOffer(res);
    this.row.protocol = offer.protocol;
    if (offer.protocol !== "l402") {
      const quote = await quoteX402(this, offer.x402, this.network());
      this.row.protocol = quote.protocol;
      if (this.req.dryRun) return this.dryRun(res, quote.protocol, quote);
      return this.payX402(res, quote);
    }
    const ch = offer.challenge;
    let checked: { inv: DecodedInvoice; amountMsat: number } | null = null;
    let refusal: SatchelError | null = null;
    try {
      checked = checkL402(ch, this.maxMsat, getConfig(this.ctx.env).network);
    } catch (e) {
      if (!(e instanceof SatchelError) || !this.req.dryRun) throw e;
      refusal = e;
    }
    if (this.req.dryRun) {
      return this.dryRun(res, "l402", null, checked, refusal);
    }

    // One payment per agent and origin at a time in this isolate; the others wait and reuse its token.
    const key = `${this.ctx.agentId} ${this.origin}`;
    const running = inflight.get(key);
    if (running) {
      await running;
      const reused = await this.tryCached(res.url, refused);
      if (reused.result) return reused.result;
      if (reused.challenge) return this.onPaymentRequired(reused.challenge, reused.refused);
    }
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    inflight.set(key, mine);
    try {
      // Another call in this isolate may have paid since we read the token cache: then try its token.
      const reused =
        (cachedCount.get(key) ?? 0) !== this.cachedBefore ? await this.tryCached(res.url, refused) : { refused };
      if (reused.result) return reused.result;
      if (reused.challenge) {
        res = reused.challenge;
        const again = detectOffer(res);
        if (again.protocol !== "l402") return this.payX402(res, await quoteX402(this, again.x402, this.network()));
        return await this.payL402(res, again.challenge, checkL402(again.challenge, this.maxMsat, this.network()));
      }
      return await this.payL402(res, ch, checked!);
    } finally {
      if (inflight.get(key) === mine) inflight.delete(key);
      done();
    }
  }

  private network() {
    return getConfig(this.ctx.env).network;
  }

  /** Tries a token another call cached meanwhile; a refusal hands back its fresh challenge. */
  private async tryCached(
    at: URL,
    refused: string | null,
  ): Promise<{ result?: PayApiResult; challenge?: FetchedResponse; refused: string | null }> {
    const t = await this.ledger.getToken(this.origin);
    if (!t || t.token === refused) return { refused };
    const res = await this.http.send(at, this.withAuth(t.token));
    if (res.status !== 402) {
      this.outcome = "token_reused";
      return { result: this.result(res, { tokenReused: true }), refused };
    }
    await this.ledger.dropToken(this.origin, t.token);
    return { challenge: res, refused: t.token };
  }

  private async payL402(
    res: FetchedResponse,
    ch: L402Challenge,
    checked: { inv: DecodedInvoice; amountMsat: number },
  ): Promise<PayApiResult> {
    const at = res.url;
    const view = await this.payInvoice(checked.inv, `L402 ${this.req.method} ${at.pathname}`, at.host);
    const preimage = view.entry.preimage;
    if (!preimage || !preimageMatches(preimage, checked.inv.paymentHash)) {
      throw new SatchelError("PREIMAGE_MISMATCH", "The payment returned no valid preimage, so no credential.", {
        hint: "Do not pay again; check get_transactions.",
      });
    }
    const credential = l402Authorization(ch.scheme, ch.macaroon, preimage);
    this.credential = credential;
    // Cached while the paid request is on its way (the ledger gets it first), not after it.
    const cached = this.ledger.putToken(at.origin, {
      token: credential,
      paymentHash: checked.inv.paymentHash,
      amountMsat: checked.amountMsat,
    });
    let paid: FetchedResponse;
    try {
      paid = await this.sendPaid(at, this.withAuth(credential));
    } finally {
      await cached;
      const key = `${this.ctx.agentId} ${at.origin}`;
      cachedCount.set(key, (cachedCount.get(key) ?? 0) + 1);
    }
    if (paid.status === 402) {
      await this.ledger.dropToken(at.origin, credential);
      throw new SatchelError("UPSTREAM_ERROR", "The API refused the credential Satchel paid for.", {
        hint: "The payment went through (see details); nothing more was paid. Contact the API's operator with the payment hash and preimage.",
        details: { reason: "paid_credential_refused" },
      });
    }
    this.outcome = "paid";
    return this.result(paid, { protocol: "l402" });
  }

  /** Pays a checked invoice through the agent's ledger (every limit is enforced there). */
  async payInvoice(inv: DecodedInvoice, memo: string, host: string): Promise<PaymentView> {
    this.payAttempted = true;
    const view = await payThroughLedger(this.ctx.env, this.ctx.agentId, {
      invoice: inv.invoice,
      maxPaymentMsat: this.maxMsat,
      ...spending(this.ctx),
      host,
      memo: memo.slice(0, 200),
      ...(this.req.idempotencyKey ? { idempotencyKey: `paywall:${this.req.idempotencyKey}` } : {}),
    });
    this.paidView = view;
    this.row.payment_id = view.entry.id;
    this.row.payment_hash = view.entry.paymentHash;
    this.row.amount_msat = view.entry.amountMsat;
    this.row.fee_msat = view.entry.feeMsat;
    return view;
  }

  /** Reserves the sats of an X402 USDC payment in the agent's ledger (every limit is enforced there). */
  async reserveExternal(p: ExternalPayment): Promise<{ paymentId: string }> {
    const r = await call(
      this.ledger.reserveExternal({
        ...p,
        maxPaymentMsat: this.maxMsat,
        ...spending(this.ctx),
        ...(this.req.idempotencyKey ? { idempotencyKey: `paywall:${this.req.idempotencyKey}` } : {}),
      }),
    );
    // From here the signed authorization may leave Satchel: an unknown outcome may have moved money.
    this.payAttempted = true;
    this.row.payment_id = r.paymentId;
    this.row.payment_hash = p.paymentHash;
    return r;
  }

  /** Spends or releases an X402 USDC reservation once the API answered the paid request. */
  async settleExternal(paymentId: string, outcome: "succeeded" | "failed", reason?: string): Promise<PaymentView> {
    const view = await call(
      this.ledger.settleExternal({
        paymentId,
        outcome,
        ...spending(this.ctx),
        ...(reason === undefined ? {} : { reason }),
      }),
    );
    if (outcome === "succeeded") {
      this.paidView = view;
      this.row.amount_msat = view.entry.amountMsat;
      this.row.fee_msat = 0;
    } else {
      // Released: nothing moved, so a key used for this call may be used again.
      this.payAttempted = false;
    }
    return view;
  }

  /** Sends a request that carries a paid credential: network failures are retried with it, never paid again. */
  async sendPaid(at: URL, spec: RequestSpec, tries?: { count: number }): Promise<FetchedResponse> {
    for (let attempt = 0; ; attempt++) {
      if (tries) tries.count = attempt + 1;
      try {
        return await this.http.send(at, spec);
      } catch (e) {
        const retriable =
          e instanceof SatchelError &&
          e.code === "UPSTREAM_ERROR" &&
          (e.details as { reason?: string } | undefined)?.reason === "network";
        if (!retriable || attempt >= PAID_RETRIES) throw e;
      }
    }
  }

  private async payX402(res: FetchedResponse, quote: X402Quote): Promise<PayApiResult> {
    const paid = await payX402(this, res, quote);
    this.x402 = paid;
    this.row.protocol = paid.protocol;
    this.row.usdc_amount = paid.usdcAmount;
    this.row.btc_usd = paid.btcUsd;
    this.outcome = "paid";
    return this.result(paid.response, { protocol: paid.protocol });
  }

  /** Adds what was paid to an error raised after the payment, so the agent never pays blindly again. */
  withPayment(e: unknown): SatchelError {
    const err =
      e instanceof SatchelError
        ? e
        : new SatchelError("INTERNAL", "Internal error.", { hint: "Try again; if it persists, contact the operator." });
    if (!(e instanceof SatchelError)) {
      console.error("pay_l402_api failed", {
        error: e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : "unknown",
      });
    }
    if (!this.paidView) return err;
    const p = this.paymentFields();
    return new SatchelError(err.code, err.message, {
      hint: err.hint ?? "The payment went through; nothing more was paid.",
      details: {
        ...err.details,
        paid: true,
        payment_protocol: this.row.protocol,
        ...p,
        ...(this.credential ? { credential: this.credential } : {}),
      },
    });
  }

  private paymentFields() {
    const v = this.paidView;
    if (!v) {
      return {
        amount_sats: 0,
        fee_sats: 0,
        total_sats: 0,
        payment_id: null,
        payment_hash: null,
        preimage: null,
        budget_remaining_sats: satsFloor(this.snap.remaining.spendableMsat),
      };
    }
    return {
      amount_sats: sats(v.entry.amountMsat),
      fee_sats: sats(v.entry.feeMsat),
      total_sats: sats(v.entry.amountMsat + v.entry.feeMsat),
      payment_id: v.entry.id,
      payment_hash: v.entry.paymentHash,
      preimage: v.entry.preimage,
      budget_remaining_sats: satsFloor(v.spendableMsat),
    };
  }

  private result(res: FetchedResponse, o: { tokenReused?: boolean; protocol?: PaymentProtocol }): PayApiResult {
    return {
      url: res.url.toString(),
      status: res.status,
      headers: shownHeaders(res.headers),
      ...showBody(res.body, res.headers.get("content-type")),
      dry_run: false,
      paid: this.paidView !== null,
      payment_protocol: o.protocol ?? null,
      token_reused: o.tokenReused ?? false,
      price_sats: this.paidView ? sats(this.paidView.entry.amountMsat) : null,
      would_pay: null,
      refusal: null,
      ...this.paymentFields(),
      usdc_amount: this.x402?.usdcAmount ?? null,
      btc_usd_rate: this.x402?.btcUsd ?? null,
      spread_percent: this.x402?.spreadPercent ?? null,
      replayed: this.paidView?.replayed ?? false,
    };
  }

  private dryRun(
    res: FetchedResponse,
    protocol: PaymentProtocol,
    x402: X402Quote | null,
    l402?: { inv: DecodedInvoice; amountMsat: number } | null,
    refusal?: SatchelError | null,
  ): PayApiResult {
    let priceMsat: number | null = l402?.amountMsat ?? null;
    let err = refusal ?? null;
    if (x402) {
      priceMsat = x402.priceMsat;
      err = err ?? x402.refusal;
    }
    if (!err && priceMsat !== null) {
      if (priceMsat > this.maxMsat) {
        err = new SatchelError("AMOUNT_TOO_LARGE", "The price is above max_payment_sats.");
      } else if (priceMsat > this.snap.remaining.spendableMsat) {
        err = new SatchelError("BUDGET_EXCEEDED", "The price is above what this agent may still spend.");
      }
    }
    return {
      url: res.url.toString(),
      status: res.status,
      headers: shownHeaders(res.headers),
      ...showBody(res.body, res.headers.get("content-type")),
      dry_run: true,
      paid: false,
      payment_protocol: protocol,
      token_reused: false,
      price_sats: priceMsat === null ? null : sats(priceMsat),
      would_pay: err === null,
      refusal: err ? { code: err.code, message: err.message } : null,
      ...this.paymentFields(),
      usdc_amount: x402?.usdcAmount ?? null,
      btc_usd_rate: x402?.btcUsd ?? null,
      spread_percent: x402?.spreadPercent ?? null,
      replayed: false,
    };
  }
}

/** Which protocol a 402 speaks. L402 wins when both are offered. */
export function detectOffer(
  res: FetchedResponse,
): { protocol: "l402"; challenge: L402Challenge } | { protocol: "x402" | "x402-lightning"; x402: X402Offer } {
  const www = res.headers.get("www-authenticate") ?? "";
  const l402 = pickL402Challenge(parseL402Challenges(www));
  if (l402) return { protocol: "l402", challenge: l402 };
  const x402 = detectX402(res);
  if (x402) return { protocol: x402.lightning ? "x402-lightning" : "x402", x402 };
  throw new SatchelError(
    "UNSUPPORTED_CHALLENGE",
    mentionsL402(www)
      ? "The API answered 402 with an L402 challenge that lacks a macaroon or an invoice."
      : "The API answered 402 without an L402 or X402 challenge Satchel can pay.",
    {
      hint: "Nothing was paid. Check the URL, or pay by other means.",
      details: { www_authenticate: www.slice(0, 200) },
    },
  );
}

/** Everything checked about an L402 challenge before any money moves. */
export function checkL402(
  ch: L402Challenge,
  maxMsat: number,
  network: string,
): { inv: DecodedInvoice; amountMsat: number } {
  const inv = decodeInvoice(ch.invoice);
  if (inv.network !== network) {
    throw new SatchelError(
      "WRONG_NETWORK",
      `The paywall's invoice is for ${inv.network}; the wallet is on ${network}.`,
    );
  }
  if (inv.amountMsat === null || inv.amountMsat <= 0) {
    throw new SatchelError("AMOUNT_REQUIRED", "The paywall's invoice has no amount, so its price is unknown.", {
      hint: "Nothing was paid. Satchel only pays paywall invoices that state their price.",
    });
  }
  if (isExpired(inv, Math.floor(Date.now() / 1000))) {
    throw new SatchelError("INVOICE_EXPIRED", "The paywall's invoice has already expired.", {
      hint: "Nothing was paid. Try again; if it persists the API's clock or invoices are broken.",
    });
  }
  if (inv.amountMsat > maxMsat) {
    throw new SatchelError(
      "AMOUNT_TOO_LARGE",
      `The API asks ${sats(inv.amountMsat)} sats, above max_payment_sats ${satsFloor(maxMsat)}.`,
      {
        hint: "Nothing was paid. Raise max_payment_sats if the price is acceptable.",
        details: { limit: "max_payment_sats", price_sats: sats(inv.amountMsat) },
      },
    );
  }
  const hash = tokenPaymentHash(ch.macaroon);
  if (hash !== null && hash !== inv.paymentHash) {
    throw new SatchelError(
      "INVALID_CHALLENGE",
      "The macaroon is bound to another payment hash than the invoice's: paying would not unlock it.",
      { hint: "Nothing was paid. The API is misconfigured or hostile." },
    );
  }
  return { inv, amountMsat: inv.amountMsat };
}

export interface PayChallengeResult {
  token: string;
  authorization: string;
  amount_sats: number;
  fee_sats: number;
  total_sats: number;
  payment_id: string;
  payment_hash: string | null;
  preimage: string;
  budget_remaining_sats: number;
  replayed: boolean;
}

/** pay_l402_challenge: checks and pays an invoice + macaroon someone handed over; returns the credential. */
export async function payChallenge(
  ctx: PayContext,
  req: { invoice: string; macaroon: string; maxPaymentSats?: number; idempotencyKey?: string },
): Promise<PayChallengeResult> {
  const snap = await call(ledgerStub(ctx.env, ctx.agentId).getSnapshot(ctx.sessionId));
  const maxMsat =
    req.maxPaymentSats !== undefined
      ? req.maxPaymentSats * 1000
      : (snap.policy.maxPerPaymentMsat ?? DEFAULT_MAX_PAYMENT_SATS * 1000);
  const macaroon = req.macaroon.trim();
  const { inv } = checkL402(
    {
      scheme: "L402",
      macaroon,
      invoice: req.invoice
        .trim()
        .replace(/^lightning:/i, "")
        .toLowerCase(),
      version: null,
    },
    maxMsat,
    getConfig(ctx.env).network,
  );
  const view = await payThroughLedger(ctx.env, ctx.agentId, {
    invoice: inv.invoice,
    maxPaymentMsat: maxMsat,
    ...spending(ctx),
    memo: "L402 challenge",
    ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
  });
  const preimage = view.entry.preimage;
  if (!preimage || !preimageMatches(preimage, inv.paymentHash)) {
    throw new SatchelError("PREIMAGE_MISMATCH", "The payment returned no valid preimage.", {
      hint: "Do not pay again; check get_transactions.",
    });
  }
  return {
    token: `${macaroon}:${preimage}`,
    authorization: l402Authorization("L402", macaroon, preimage),
    amount_sats: sats(view.entry.amountMsat),
    fee_sats: sats(view.entry.feeMsat),
    total_sats: sats(view.entry.amountMsat + view.entry.feeMsat),
    payment_id: view.entry.id,
    payment_hash: view.entry.paymentHash,
    preimage,
    budget_remaining_sats: satsFloor(view.spendableMsat),
    replayed: view.replayed,
  };
}
