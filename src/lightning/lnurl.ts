/**
 * The paying side of LNURL: Lightning addresses (LUD-16) resolved to LNURL-pay (LUD-06, comments
 * LUD-12), LNURL-withdraw (LUD-03) and LNURL-auth (LUD-04, one linking key per agent and domain).
 * Everything a service says is checked before money moves: the amount against its min/max, and
 * the invoice it returns against the amount asked and sha256(metadata) (its description hash).
 * No MCP or ledger imports: callers decide how money moves.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { bech32 } from "@scure/base";
import { SatchelError } from "../errors";
import { decodeInvoice, type DecodedInvoice } from "./bolt11";

const FETCH_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 64 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

export interface LnurlOptions {
  /** Development: plain http is allowed to loopback services (the tests' LNURL servers). */
  allowLoopbackHttp: boolean;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function invalid(message: string, hint?: string): SatchelError {
  return new SatchelError("INVALID_INPUT", message, hint === undefined ? {} : { hint });
}

/** Checks a service URL: https, or http to loopback in development (LUD-01 also allows .onion over http). */
function serviceUrl(raw: string, opts: LnurlOptions): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("The LNURL does not contain a valid URL.");
  }
  const http =
    url.protocol === "http:" &&
    (url.hostname.endsWith(".onion") || (opts.allowLoopbackHttp && isLoopback(url.hostname)));
  if (url.protocol !== "https:" && !http) throw invalid("LNURL services must use https.");
  if (url.username || url.password) throw invalid("An LNURL must not carry credentials.");
  return url;
}

/** The URL of a Lightning address (LUD-16): name@domain → https://domain/.well-known/lnurlp/name. */
export function lightningAddressUrl(address: string, opts: LnurlOptions): URL {
  const m = /^([a-z0-9\-_.+]+)@([a-z0-9.-]+(?::\d{1,5})?)$/i.exec(address.trim());
  if (!m) throw invalid("That is not a Lightning address (name@domain).");
  const [, name, domain] = m;
  const host = domain!.toLowerCase();
  const scheme = opts.allowLoopbackHttp && isLoopback(host.replace(/:\d+$/, "")) ? "http" : "https";
  return serviceUrl(`${scheme}://${host}/.well-known/lnurlp/${name!.toLowerCase()}`, opts);
}

/** The URL inside an LNURL: bech32 `lnurl1…` (LUD-01), `lnurlp://`/`lnurlw://`/`keyauth://` (LUD-17), or a plain URL. */
export function lnurlToUrl(input: string, opts: LnurlOptions): URL {
  let s = input.trim().replace(/^lightning:/i, "");
  if (/^lnurl1/i.test(s)) {
    try {
      const { words } = bech32.decode(s.toLowerCase() as `${string}1${string}`, 2000);
      s = new TextDecoder().decode(bech32.fromWords(words));
    } catch {
      throw invalid("The LNURL is not valid bech32.");
    }
  } else {
    const m = /^(lnurlp|lnurlw|keyauth|lnurlc):\/\/(.*)$/i.exec(s);
    if (m) {
      const rest = m[2]!;
      const host = rest.split(/[/?#]/)[0]!.replace(/:\d+$/, "");
      s = `${host.endsWith(".onion") || (opts.allowLoopbackHttp && isLoopback(host)) ? "http" : "https"}://${rest}`;
    }
  }
  return serviceUrl(s, opts);
}

/** GETs an LNURL endpoint and returns its JSON; a `{status:"ERROR"}` answer becomes an error. */
export async function fetchLnurl(url: URL): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url.toString(), {
      headers: { accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch {
    throw new SatchelError("WALLET_UNAVAILABLE", `The LNURL service at ${url.host} could not be reached.`, {
      hint: "Check the address, or try again later. Nothing was paid.",
    });
  }
  const text = await res.text();
  if (text.length > MAX_BODY_BYTES) throw invalid(`The LNURL service at ${url.host} sent an oversized answer.`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid(`The LNURL service at ${url.host} did not answer with JSON (HTTP ${res.status}).`);
  }
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw invalid(`The LNURL service at ${url.host} sent no object.`);
  const obj = body as Record<string, unknown>;
  if (obj.status === "ERROR") {
    const reason = typeof obj.reason === "string" ? obj.reason.slice(0, 200) : "no reason given";
    throw new SatchelError("PAYMENT_FAILED", `The LNURL service refused: ${reason}`, {
      hint: "Nothing was paid. The service's reason is in the message.",
      details: { service: url.host },
    });
  }
  if (!res.ok) throw invalid(`The LNURL service at ${url.host} answered HTTP ${res.status}.`);
  return obj;
}

const int = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null);

export interface PayParams {
  callback: URL;
  minSendableMsat: number;
  maxSendableMsat: number;
  metadata: string;
  commentAllowed: number;
  /** The text/plain entry of the metadata, for display. */
  description: string | null;
}

/** Reads a LUD-06 payRequest. */
export function parsePayRequest(body: Record<string, unknown>, opts: LnurlOptions): PayParams {
  if (body.tag !== "payRequest") throw invalid("That LNURL is not a pay request.");
  const min = int(body.minSendable);
  const max = int(body.maxSendable);
  if (typeof body.callback !== "string" || min === null || max === null || min < 1 || max < min) {
    throw invalid("The LNURL-pay service sent an invalid pay request (callback, minSendable, maxSendable).");
  }
  if (typeof body.metadata !== "string") throw invalid("The LNURL-pay service sent no metadata.");
  let description: string | null = null;
  try {
    const entries = JSON.parse(body.metadata) as unknown;
    if (Array.isArray(entries)) {
      const plain = entries.find((e) => Array.isArray(e) && e[0] === "text/plain");
      if (plain && typeof plain[1] === "string") description = plain[1].slice(0, 300);
    }
  } catch {
    throw invalid("The LNURL-pay metadata is not JSON.");
  }
  return {
    callback: serviceUrl(body.callback, opts),
    minSendableMsat: min,
    maxSendableMsat: max,
    metadata: body.metadata,
    commentAllowed: int(body.commentAllowed) ?? 0,
    description,
  };
}

/** Refuses an amount outside the service's range, before any invoice is asked for. */
export function checkPayAmount(p: PayParams, amountMsat: number): void {
  if (amountMsat < p.minSendableMsat || amountMsat > p.maxSendableMsat) {
    throw new SatchelError(
      "INVALID_INPUT",
      `This recipient accepts ${Math.ceil(p.minSendableMsat / 1000)} to ${Math.floor(p.maxSendableMsat / 1000)} sats.`,
      {
        hint: "Choose an amount in that range. Nothing was paid.",
        details: { min_sats: Math.ceil(p.minSendableMsat / 1000), max_sats: Math.floor(p.maxSendableMsat / 1000) },
      },
    );
  }
}

/** Asks the callback for an invoice and checks it: the amount asked, and sha256(metadata) as its description hash. */
export async function requestPayInvoice(
  p: PayParams,
  amountMsat: number,
  comment: string | undefined,
): Promise<{ invoice: DecodedInvoice; successAction: unknown }> {
  checkPayAmount(p, amountMsat);
  if (comment !== undefined && comment.length > 0) {
    if (p.commentAllowed === 0) throw invalid("This recipient does not accept comments.", "Leave the comment out.");
    if ([...comment].length > p.commentAllowed) {
      throw invalid(`This recipient accepts comments of at most ${p.commentAllowed} characters.`);
    }
  }
  const url = new URL(p.callback.toString());
  url.searchParams.set("amount", String(amountMsat));
  if (comment) url.searchParams.set("comment", comment);
  const body = await fetchLnurl(url);
  if (typeof body.pr !== "string") throw invalid("The LNURL-pay service returned no invoice.");
  const inv = decodeInvoice(body.pr);
  if (inv.amountMsat !== amountMsat) {
    throw new SatchelError(
      "AMOUNT_MISMATCH",
      `The recipient's invoice asks ${inv.amountMsat === null ? "any amount" : `${Math.ceil(inv.amountMsat / 1000)} sats`}, not the ${Math.ceil(amountMsat / 1000)} sats requested.`,
      { hint: "Refused before paying: the service is faulty or dishonest. Nothing was paid." },
    );
  }
  const expected = bytesToHex(sha256(utf8ToBytes(p.metadata)));
  if (inv.descriptionHash !== expected) {
    throw new SatchelError(
      "INVALID_INVOICE",
      "The recipient's invoice is not bound to its LNURL metadata (description hash mismatch).",
      {
        hint: "Refused before paying: the invoice may not be for this recipient. Nothing was paid.",
      },
    );
  }
  return { invoice: inv, successAction: body.successAction ?? null };
}

/** A LUD-09 success action, reduced to what an agent can use (AES payloads are left encrypted). */
export function successActionOf(
  body: unknown,
): { tag: string; message?: string; url?: string; description?: string } | null {
  if (!body || typeof body !== "object") return null;
  const a = body as Record<string, unknown>;
  if (typeof a.tag !== "string") return null;
  const s = (v: unknown) => (typeof v === "string" ? v.slice(0, 500) : undefined);
  return {
    tag: a.tag,
    ...(s(a.message) ? { message: s(a.message)! } : {}),
    ...(s(a.url) ? { url: s(a.url)! } : {}),
    ...(s(a.description) ? { description: s(a.description)! } : {}),
  };
}

export interface WithdrawParams {
  callback: URL;
  k1: string;
  minWithdrawableMsat: number;
  maxWithdrawableMsat: number;
  defaultDescription: string;
}

/** Reads a LUD-03 withdrawRequest. */
export function parseWithdrawRequest(body: Record<string, unknown>, opts: LnurlOptions): WithdrawParams {
  if (body.tag !== "withdrawRequest") throw invalid("That LNURL is not a withdraw request.");
  const min = int(body.minWithdrawable);
  const max = int(body.maxWithdrawable);
  if (
    typeof body.callback !== "string" ||
    typeof body.k1 !== "string" ||
    min === null ||
    max === null ||
    max < min ||
    max < 1000
  ) {
    throw invalid("The LNURL-withdraw service sent an invalid withdraw request.");
  }
  return {
    callback: serviceUrl(body.callback, opts),
    k1: body.k1,
    minWithdrawableMsat: min,
    maxWithdrawableMsat: max,
    defaultDescription: typeof body.defaultDescription === "string" ? body.defaultDescription.slice(0, 200) : "",
  };
}

/** Hands our invoice to the withdraw service (it pays it afterwards). */
export async function submitWithdraw(p: WithdrawParams, invoice: string): Promise<void> {
  const url = new URL(p.callback.toString());
  url.searchParams.set("k1", p.k1);
  url.searchParams.set("pr", invoice);
  const body = await fetchLnurl(url);
  if (body.status !== "OK") throw invalid("The LNURL-withdraw service did not confirm the withdrawal.");
}

/**
 * The LNURL-auth linking key of one agent on one domain: HMAC-SHA256 of a server secret over the
 * agent and domain. Stable per (agent, domain), different across domains, so services cannot
 * link an agent's identities; never leaves Satchel.
 */
export function linkingKey(serverSecret: string, agentId: string, domain: string): Uint8Array {
  for (let i = 0; ; i++) {
    const key = hmac(
      sha256,
      utf8ToBytes(serverSecret),
      utf8ToBytes(`satchel-lnurl-auth:v1:${agentId}:${domain.toLowerCase()}:${i}`),
    );
    if (secp256k1.utils.isValidSecretKey(key)) return key;
  }
}

export interface AuthRequest {
  url: URL;
  k1: string;
  action: string | null;
  domain: string;
}

/** Reads a LUD-04 login URL: tag=login and a 32-byte hex k1. */
export function parseAuthRequest(url: URL): AuthRequest {
  if (url.searchParams.get("tag") !== "login") throw invalid("That LNURL is not an LNURL-auth (tag=login) request.");
  const k1 = (url.searchParams.get("k1") ?? "").toLowerCase();
  if (!HEX64.test(k1)) throw invalid("The LNURL-auth k1 must be 32 bytes of hex.", "Nothing was signed.");
  return { url, k1, action: url.searchParams.get("action"), domain: url.hostname.toLowerCase() };
}

/** Signs k1 with the linking key (DER, hex) and returns the callback URL with sig and key. */
export function signAuth(req: AuthRequest, key: Uint8Array): { callback: URL; linkingPubkey: string } {
  const sig = secp256k1.sign(hexToBytes(req.k1), key, { prehash: false, format: "der" });
  const linkingPubkey = bytesToHex(secp256k1.getPublicKey(key, true));
  const callback = new URL(req.url.toString());
  callback.searchParams.set("sig", bytesToHex(sig));
  callback.searchParams.set("key", linkingPubkey);
  return { callback, linkingPubkey };
}
