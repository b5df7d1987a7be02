import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RATE_LIMITS } from "../../src/auth/rate-limit";
import { codeOf, newOperator, ok, tool } from "./helpers";

// The limiter counts in fixed windows, so a run that straddles a window edge needs up to twice the
// limit before it is refused; the loops are bounded by that, and never refuse below the limit.
describe("rate limits", () => {
  it("a credential past its tool-call limit gets RATE_LIMITED with a retry hint; other credentials do not", async () => {
    const { principal } = await newOperator();
    const { principal: other } = await newOperator();
    let calls = 0;
    let limited: Awaited<ReturnType<typeof tool>> | null = null;
    while (!limited && calls <= 2 * RATE_LIMITS.perKey.limit) {
      const r = await tool(principal, "decode_invoice", { invoice: "not an invoice" });
      calls++;
      if (codeOf(r) === "RATE_LIMITED") limited = r;
      else expect(codeOf(r)).toBe("INVALID_INVOICE");
    }
    expect(limited, "never limited").not.toBeNull();
    expect(calls).toBeGreaterThan(RATE_LIMITS.perKey.limit);
    expect(limited!.structuredContent).toMatchObject({
      details: { retry_after_seconds: RATE_LIMITS.perKey.periodSeconds },
    });
    const limits = ok<{ per_credential: { limit: number } }>(await tool(other, "get_rate_limits"));
    expect(limits.per_credential.limit).toBe(RATE_LIMITS.perKey.limit);
  }, 120_000);

  it("an IP past its limit gets HTTP 429 with Retry-After on every route but /health", async () => {
    const from = (ip: string, path = "/no-such-page") =>
      SELF.fetch(`http://localhost${path}`, { headers: { host: "localhost", "cf-connecting-ip": ip } });
    let requests = 0;
    let status = 404;
    while (status === 404 && requests <= 2 * RATE_LIMITS.perIp.limit) {
      status = (await from("203.0.113.7")).status;
      requests++;
    }
    expect(status).toBe(429);
    expect(requests).toBeGreaterThan(RATE_LIMITS.perIp.limit);
    for (const path of ["/no-such-page", "/mcp", "/sse", "/sign-in"]) {
      const res = await from("203.0.113.7", path);
      expect(res.status, path).toBe(429);
      expect(res.headers.get("retry-after")).toBe(String(RATE_LIMITS.perIp.periodSeconds));
    }
    expect((await from("203.0.113.7", "/health")).status).toBe(200);
    expect((await from("203.0.113.8")).status).toBe(404);
  }, 120_000);
});
