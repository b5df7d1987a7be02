// X402 over USDC in the Workers runtime, with the counterparts in process (through the paywall
// transport hook): the v1 server and the local facilitator of test/support/paywall-x402.ts (@x402/core's
// x402Facilitator with @x402/evm's exact schemes on an in-memory chain), and a CoinGecko-shaped rate
// source on the default RATE_SOURCE_URL host. What the e2e suite cannot easily reach: idempotency,
// an outcome that stays unknown, and the ledger's view of it.
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTransportForTests } from "../../src/paywall/http";
import { LocalUsdcChain, localFacilitator, rateServer, x402V1Server } from "../support/paywall-x402";
import { codeOf, journal, newAgent, newOperator, ok, snapshot, tool } from "./helpers";
import { failNext, installTransport, serve } from "./paywall-support";

interface Paid {
  status: number;
  paid: boolean;
  payment_protocol: string | null;
  amount_sats: number;
  usdc_amount: string | null;
  btc_usd_rate: number | null;
  payment_hash: string | null;
  replayed: boolean;
}

const chain = new LocalUsdcChain();
const { facilitator } = localFacilitator(chain);
const payTo = "0x3333333333333333333333333333333333333333";
const v1 = x402V1Server(facilitator, payTo, "50000");

beforeAll(() => {
  installTransport();
  // The default RATE_SOURCE_URL's host: CoinGecko's shape, served in process.
  serve("api.coingecko.com", rateServer({ usd: 50_000 }).app);
  serve("usdc.test", v1.app);
});
afterAll(() => setTransportForTests(null));

async function configured() {
  const { principal: op } = await newOperator();
  const key = generatePrivateKey();
  chain.mint("eip155:84532", privateKeyToAccount(key).address, 10_000_000n);
  ok(await tool(op, "configure_x402", { evm_private_key: key, networks: ["base-sepolia"] }));
  return { op, ...(await newAgent(op)) };
}

describe("X402 over USDC in the Workers runtime", () => {
  it("an idempotency_key repeat returns the first result: one signature, one settlement, one debit", async () => {
    const { agentId, principal } = await configured();
    const before = chain.settlements.length;
    const args = { url: "https://usdc.test/quote", idempotency_key: "usdc-1" };
    // $0.05 at $50 000/BTC = 100 sats, + 1 % spread = 101 sats.
    const a = ok<Paid>(await tool(principal, "pay_l402_api", args));
    expect(a).toMatchObject({
      status: 200,
      paid: true,
      payment_protocol: "x402",
      amount_sats: 101,
      usdc_amount: "0.05",
    });
    const b = ok<Paid>(await tool(principal, "pay_l402_api", args));
    expect(b).toEqual({ ...a, replayed: true });
    expect(chain.settlements.length - before).toBe(1);
    expect((await snapshot(agentId)).spentMsat).toBe(101_000);
    const out = (await journal(agentId)).filter((r) => r.direction === "out");
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ status: "succeeded", amount_msat: 101_000, payment_hash: a.payment_hash });
  });

  it("a paid request that never gets an answer: PAYMENT_PENDING, the sats stay reserved, a repeat pays nothing", async () => {
    const { agentId, principal } = await configured();
    const before = chain.settlements.length;
    // The 402 gets through; the paid request and its two retries fail on the network.
    serve("lost.test", {
      fetch: async (req: Request) => {
        const res = await v1.app.fetch(req);
        if (res.status === 402) failNext("lost.test", 3);
        return res;
      },
    });
    const args = { url: "https://lost.test/quote", idempotency_key: "usdc-lost" };
    const r = await tool(principal, "pay_l402_api", args);
    expect(codeOf(r)).toBe("PAYMENT_PENDING");
    expect((r.structuredContent as { details: Record<string, unknown> }).details).toMatchObject({ reason: "network" });
    const s = await snapshot(agentId);
    expect(s).toMatchObject({ reservedMsat: 101_000, spentMsat: 0 });
    expect(codeOf(await tool(principal, "pay_l402_api", args))).toBe("PAYMENT_PENDING");
    expect((await snapshot(agentId)).reservedMsat).toBe(101_000);
    expect(chain.settlements.length).toBe(before);
  });

  it("without a key for the offered network: WALLET_NOT_CONFIGURED before anything is signed", async () => {
    const { principal: op } = await newOperator();
    ok(await tool(op, "configure_x402", { evm_private_key: generatePrivateKey(), networks: ["base"] }));
    const { agentId, principal } = await newAgent(op);
    expect(codeOf(await tool(principal, "pay_l402_api", { url: "https://usdc.test/quote" }))).toBe(
      "WALLET_NOT_CONFIGURED",
    );
    expect((await snapshot(agentId)).reservedMsat).toBe(0);
  });
});
