// The demo paywalls on the Worker (src/web/demo.ts), paid by Satchel and by a client Satchel did not
// write: @getalby/lightning-tools' fetchWithL402, whose wallet here is a Satchel agent (pay_invoice).
import { fetchWithL402 } from "@getalby/lightning-tools/402/l402";
import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTransportForTests } from "../../src/paywall/http";
import { demo } from "../../src/web/demo";
import { codeOf, newAgent, newOperator, ok, snapshot, tool } from "./helpers";
import { installTransport, serve } from "./paywall-support";

beforeAll(() => {
  installTransport();
  serve("localhost:8787", demo);
});
afterAll(() => setTransportForTests(null));

describe("demo paywalls", () => {
  it("pay_l402_api pays /demo/l402/fortune over plain http to localhost (development), then reuses the token", async () => {
    const { principal: op } = await newOperator();
    const { agentId, principal } = await newAgent(op);
    const url = "http://localhost:8787/demo/l402/fortune";
    const dry = ok(await tool(principal, "pay_l402_api", { url, dry_run: true }));
    expect(dry).toMatchObject({ payment_protocol: "l402", price_sats: 10, would_pay: true });
    const r = ok<{ body: { content: { fortune: string } }; paid: boolean; amount_sats: number }>(
      await tool(principal, "pay_l402_api", { url }),
    );
    expect(r).toMatchObject({ paid: true, amount_sats: 10 });
    expect(typeof r.body.content.fortune).toBe("string");
    expect(ok(await tool(principal, "pay_l402_api", { url }))).toMatchObject({ paid: false, token_reused: true });
    // The joke is another resource on the same origin: the fortune token does not open it.
    const joke = ok(await tool(principal, "pay_l402_api", { url: "http://localhost:8787/demo/l402/joke" }));
    expect(joke).toMatchObject({ paid: true, amount_sats: 5 });
    expect((await snapshot(agentId)).spentMsat).toBe(15_000);
  });

  it("pay_l402_api pays /demo/x402/quote with X402's Lightning scheme", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    const r = ok(await tool(principal, "pay_l402_api", { url: "http://localhost:8787/demo/x402/quote" }));
    expect(r).toMatchObject({ status: 200, paid: true, payment_protocol: "x402-lightning", amount_sats: 21 });
    expect((r as { headers: Record<string, string> }).headers["payment-response"]).toBeTruthy();
  });

  it("an X402 Lightning offer whose amount differs from its invoice is refused (AMOUNT_MISMATCH)", async () => {
    const { principal: op } = await newOperator();
    const { agentId, principal } = await newAgent(op);
    serve("liar.test", {
      fetch: async (req: Request) => {
        const res = await demo.fetch(new Request("http://localhost:8787/demo/x402/quote", req), env);
        const body = (await res.json()) as { accepts: { amount: string }[] };
        body.accepts[0]!.amount = "1000";
        return Response.json(body, { status: 402 });
      },
    });
    expect(codeOf(await tool(principal, "pay_l402_api", { url: "https://liar.test/q" }))).toBe("AMOUNT_MISMATCH");
    expect((await snapshot(agentId)).spentMsat).toBe(0);
  });

  it("plain http to a non-loopback host is refused even in development", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    expect(codeOf(await tool(principal, "pay_l402_api", { url: "http://example.test/demo" }))).toBe("INVALID_INPUT");
  });

  it("@getalby/lightning-tools' fetchWithL402 pays Satchel's demo paywall", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    const wallet = {
      async payInvoice({ invoice }: { invoice: string }) {
        const p = ok<{ preimage: string; fee_sats: number }>(await tool(principal, "pay_invoice", { invoice }));
        return { preimage: p.preimage, fees_paid: p.fee_sats * 1000 };
      },
    };
    // fetchWithL402 calls the global fetch; here it reaches the demo app in process.
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      // Node's fetch options (mode, cache) mean nothing to a Request here.
      const { mode: _mode, cache: _cache, ...rest } = (init ?? {}) as RequestInit & { mode?: unknown };
      return demo.fetch(new Request(input, rest as RequestInit), env);
    }) as typeof fetch;
    try {
      const res = await fetchWithL402("http://localhost:8787/demo/l402/joke", {}, { wallet });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { content: { joke: string } }).content.joke).toBeTruthy();
      expect(res.payment).toMatchObject({ paid: true, amountSat: 5 });
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
