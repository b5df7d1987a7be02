// The BTC/USD rate X402 USDC prices are converted with. Read from RATE_SOURCE_URL (CoinGecko's
// simple-price endpoint by default; any server answering `{"bitcoin":{"usd":N}}` works, optionally
// with CoinGecko's `last_updated_at` in unix seconds), cached 5 minutes per isolate. A rate is never
// used once it is 10 minutes old (by the source's own timestamp when it gives one): with no younger
// rate the payment is refused with RATE_UNAVAILABLE. There is no built-in fallback price.
import { SatchelError } from "../errors";
import { paywallFetch } from "./http";

/** A fetched rate is reused without asking the source again for this long. */
export const RATE_CACHE_MS = 5 * 60_000;
/** A rate older than this is never used. */
export const RATE_MAX_AGE_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;

export interface BtcUsdRate {
  usd: number;
  /** When the source says the rate was observed (its last_updated_at), else when Satchel fetched it; ms. */
  asOf: number;
  fetchedAt: number;
  source: string;
}

/** Per isolate, per source URL. */
const cache = new Map<string, BtcUsdRate>();
/** One fetch per source at a time; concurrent callers share it. */
const pending = new Map<string, Promise<BtcUsdRate>>();

/** Test hook: forgets every cached rate. */
export function clearRateCacheForTests(): void {
  cache.clear();
  pending.clear();
}

function unavailable(message: string): SatchelError {
  return new SatchelError("RATE_UNAVAILABLE", message, {
    hint: "Nothing was paid. X402 over USDC needs a BTC/USD rate younger than 10 minutes; try again later or pay by Lightning.",
  });
}

/** Reads `{"bitcoin":{"usd":N,"last_updated_at"?:S}}`; null when the shape or the number is wrong. */
export function parseRate(body: unknown): { usd: number; asOf: number | null } | null {
  if (typeof body !== "object" || body === null) return null;
  const btc = (body as { bitcoin?: unknown }).bitcoin;
  if (typeof btc !== "object" || btc === null) return null;
  const usd = (btc as { usd?: unknown }).usd;
  if (typeof usd !== "number" || !Number.isFinite(usd) || usd < 100 || usd > 100_000_000) return null;
  const at = (btc as { last_updated_at?: unknown }).last_updated_at;
  return { usd, asOf: typeof at === "number" && Number.isFinite(at) && at > 0 ? at * 1000 : null };
}

async function fetchRate(source: string, now: number): Promise<BtcUsdRate> {
  let res: Response;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    res = await paywallFetch(
      new Request(source, { headers: { accept: "application/json" }, signal: abort.signal, redirect: "manual" }),
    );
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw unavailable(`The rate source answered HTTP ${res.status}.`);
    }
    const text = await res.text();
    if (text.length > 4096) throw unavailable("The rate source's answer is not a BTC/USD price.");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw unavailable("The rate source's answer is not JSON.");
    }
    const parsed = parseRate(body);
    if (!parsed) throw unavailable("The rate source's answer is not a BTC/USD price.");
    return { usd: parsed.usd, asOf: Math.min(parsed.asOf ?? now, now), fetchedAt: now, source };
  } catch (e) {
    if (e instanceof SatchelError) throw e;
    throw unavailable("The rate source could not be reached.");
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A BTC/USD rate younger than 10 minutes: the cached one while it was fetched under 5 minutes ago,
 * else a fresh one from the source (falling back to the cached one while it is still young enough).
 */
export async function btcUsdRate(source: string, now = Date.now()): Promise<BtcUsdRate> {
  const hit = cache.get(source);
  if (hit && now - hit.fetchedAt < RATE_CACHE_MS && now - hit.asOf < RATE_MAX_AGE_MS) return hit;
  let p = pending.get(source);
  if (!p) {
    p = fetchRate(source, now).finally(() => pending.delete(source));
    pending.set(source, p);
  }
  let fresh: BtcUsdRate;
  try {
    fresh = await p;
  } catch (e) {
    if (hit && now - hit.asOf < RATE_MAX_AGE_MS) return hit;
    throw e;
  }
  if (now - fresh.asOf >= RATE_MAX_AGE_MS) {
    if (hit && now - hit.asOf < RATE_MAX_AGE_MS && hit.asOf > fresh.asOf) return hit;
    throw unavailable(
      `The newest BTC/USD rate is ${Math.round((now - fresh.asOf) / 60_000)} minutes old (more than 10 minutes).`,
    );
  }
  cache.set(source, fresh);
  return fresh;
}

/** USDC has 6 decimals. */
const USDC_UNIT = 1_000_000n;

/** "10000" atomic units → "0.01". */
export function formatUsdc(atomic: bigint): string {
  const whole = atomic / USDC_UNIT;
  const frac = (atomic % USDC_UNIT).toString().padStart(6, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/**
 * The sats an agent is charged for a USDC amount: USD ÷ BTC/USD × 10⁸, plus the spread, rounded up
 * to a whole sat; returned in msats (the ledger's unit).
 */
export function usdcToMsat(atomic: bigint, btcUsd: number, spreadPercent: number): number {
  // sats = atomic / 10⁶ USD / rate × 10⁸ × (1 + spread/100) = atomic × 100 × (1 + spread/100) / rate.
  const sats = (Number(atomic) * 100 * (1 + spreadPercent / 100)) / btcUsd;
  // Guard against float noise pushing an exact value one sat up (e.g. 10.000000000000002).
  return Math.ceil(sats - 1e-9) * 1000;
}
