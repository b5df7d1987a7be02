import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { SatchelError } from "../errors";
import { setTransportForTests } from "./http";
import { btcUsdRate, clearRateCacheForTests, formatUsdc, parseRate, usdcToMsat } from "./rate";

const SOURCE = "https://rates.test/api/v3/simple/price?ids=bitcoin&vs_currencies=usd";
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

/** The rate source: answers what `next` says and counts requests. */
let next: () => Response = () => Response.json({ bitcoin: { usd: 100_000 } });
let hits = 0;

beforeEach(() => {
  clearRateCacheForTests();
  hits = 0;
  next = () => Response.json({ bitcoin: { usd: 100_000 } });
  setTransportForTests(async () => {
    hits++;
    return next();
  });
});
afterAll(() => setTransportForTests(null));

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return e instanceof SatchelError ? e.code : String(e);
  }
};

describe("parseRate: CoinGecko's simple-price shape", () => {
  it("reads usd and the optional last_updated_at", () => {
    expect(parseRate({ bitcoin: { usd: 97_123.5 } })).toEqual({ usd: 97_123.5, asOf: null });
    expect(parseRate({ bitcoin: { usd: 97_000, last_updated_at: 1_700_000_000 } })).toEqual({
      usd: 97_000,
      asOf: 1_700_000_000_000,
    });
  });
  it("refuses anything else", () => {
    for (const bad of [
      null,
      {},
      { bitcoin: {} },
      { bitcoin: { usd: "97000" } },
      { bitcoin: { usd: 0 } },
      { bitcoin: { usd: NaN } },
      { ethereum: { usd: 3000 } },
    ]) {
      expect(parseRate(bad)).toBeNull();
    }
  });
});

describe("USDC → sats", () => {
  it("converts at the rate, adds the spread and rounds up to a whole sat (in msats)", () => {
    // $0.01 at $100 000/BTC = 10 sats; +1 % = 10.1 → 11.
    expect(usdcToMsat(10_000n, 100_000, 1)).toBe(11_000);
    // Exactly 10 sats stays 10, float noise notwithstanding.
    expect(usdcToMsat(10_000n, 100_000, 0)).toBe(10_000);
    // $1 at $64 000/BTC = 1562.5 sats → 1563.
    expect(usdcToMsat(1_000_000n, 64_000, 0)).toBe(1_563_000);
  });
  it("formats atomic USDC as a decimal", () => {
    expect(formatUsdc(10_000n)).toBe("0.01");
    expect(formatUsdc(1_000_000n)).toBe("1");
    expect(formatUsdc(1_234_567n)).toBe("1.234567");
  });
});

describe("btcUsdRate: cached 5 minutes, never older than 10", () => {
  it("asks the source once per 5 minutes", async () => {
    expect((await btcUsdRate(SOURCE, T0)).usd).toBe(100_000);
    expect((await btcUsdRate(SOURCE, T0 + 4 * MIN)).usd).toBe(100_000);
    expect(hits).toBe(1);
    next = () => Response.json({ bitcoin: { usd: 101_000 } });
    expect((await btcUsdRate(SOURCE, T0 + 5 * MIN)).usd).toBe(101_000);
    expect(hits).toBe(2);
  });

  it("concurrent callers share one request", async () => {
    await Promise.all(Array.from({ length: 10 }, () => btcUsdRate(SOURCE, T0)));
    expect(hits).toBe(1);
  });

  it("with the source down, a cached rate under 10 minutes old is used; an older one is not", async () => {
    await btcUsdRate(SOURCE, T0);
    next = () => new Response("busy", { status: 503 });
    expect((await btcUsdRate(SOURCE, T0 + 7 * MIN)).usd).toBe(100_000);
    expect(await code(btcUsdRate(SOURCE, T0 + 10 * MIN))).toBe("RATE_UNAVAILABLE");
  });

  it("a rate the source itself dates more than 10 minutes back is refused", async () => {
    next = () => Response.json({ bitcoin: { usd: 100_000, last_updated_at: Math.floor((T0 - 11 * MIN) / 1000) } });
    expect(await code(btcUsdRate(SOURCE, T0))).toBe("RATE_UNAVAILABLE");
    next = () => Response.json({ bitcoin: { usd: 100_000, last_updated_at: Math.floor((T0 - 2 * MIN) / 1000) } });
    expect((await btcUsdRate(SOURCE, T0)).usd).toBe(100_000);
  });

  it("no built-in fallback: unreachable, not JSON, wrong shape → RATE_UNAVAILABLE", async () => {
    setTransportForTests(async () => {
      throw new TypeError("connect ECONNREFUSED");
    });
    expect(await code(btcUsdRate(SOURCE, T0))).toBe("RATE_UNAVAILABLE");
    setTransportForTests(async () => new Response("<html>", { status: 200 }));
    expect(await code(btcUsdRate(SOURCE, T0))).toBe("RATE_UNAVAILABLE");
    setTransportForTests(async () => Response.json({ bitcoin: { eur: 90_000 } }));
    expect(await code(btcUsdRate(SOURCE, T0))).toBe("RATE_UNAVAILABLE");
  });
});
