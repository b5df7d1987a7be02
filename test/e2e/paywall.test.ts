// Paid APIs end to end: a Satchel of its own (wrangler dev, started by test/support/paywall-servers.ts)
// driven by the official MCP client over /mcp, paying paywalls Satchel did not write on 127.0.0.1:
// X402 v2 (@x402/hono paymentMiddleware) and v1 in USDC through a local facilitator (@x402/core's
// x402Facilitator with @x402/evm's exact schemes on an in-memory chain), X402 Lightning `exact`, and
// L402 servers (@getalby/lightning-tools' helpers; binary macaroons from the `macaroon` package,
// Aperture-style, LSAT-only and `macaroon=`-only). The BTC/USD rate comes from a loopback rate server.
//
// The X402 tests run in order: the rate cache of the Worker starts empty, so the stale-rate cases
// come before the first fresh rate is fetched.
import type { Client } from "@modelcontextprotocol/client";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PayApiResult } from "../../src/paywall/pay";
import type { PaywallLabState } from "../support/paywall-servers";
import { call, callError, mcpClients } from "./mcp-client";

const BASE = inject("paywallSatchelUrl");
const DEV_KEY = inject("paywallSatchelDevKey");
const LAB = inject("paywallLab");
const EVM_KEY = inject("x402EvmKey");
const clients = mcpClients("satchel-e2e-paywall", () => BASE);

/** What pay_l402_api answers: the tool's own result type. */
type PaidApi = PayApiResult;
interface Balance {
  balance_sats: number;
  reserved_sats: number;
}
interface Tx {
  id: string;
  direction: string;
  status: string;
  amount_sats: number;
  fee_sats: number;
  payment_hash: string | null;
  description: string | null;
}

async function labState(): Promise<PaywallLabState> {
  return (await (await fetch(`${LAB.control}/state`)).json()) as PaywallLabState;
}

async function setRate(r: { usd: number; ageSeconds?: number; status?: number }): Promise<void> {
  const res = await fetch(`${LAB.control}/rate`, { method: "POST", body: JSON.stringify(r) });
  expect(res.status).toBe(200);
}

let operator: Client;
let agentCount = 0;

async function newAgent(args: Record<string, unknown> = {}): Promise<{ id: string; client: Client }> {
  const a = await call<{ agent_id: string; api_key: string }>(operator, "create_agent", {
    name: `paywall-e2e-${++agentCount}`,
    initial_balance_sats: 5000,
    ...args,
  });
  return { id: a.agent_id, client: await clients.connect(a.api_key) };
}

const balance = async (c: Client) => (await call<Balance>(c, "check_balance")).balance_sats;

/** Runs the agent's reconciler now (what its alarm does), its clock first moved skewMs ahead. */
async function reconcile(agentId: string, skewMs = 0): Promise<{ resolved: number; stillPending: number }> {
  const res = await fetch(`${BASE}/dev/reconcile`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ agent_id: agentId, skew_ms: skewMs }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { resolved: number; stillPending: number };
}

async function setRpcDown(down: boolean): Promise<void> {
  expect((await fetch(`${LAB.control}/rpc`, { method: "POST", body: JSON.stringify({ down }) })).status).toBe(200);
}

const lastPayment = async (c: Client) =>
  (await call<{ transactions: Tx[] }>(c, "get_transactions", { direction: "out" })).transactions[0]!;

beforeAll(async () => {
  operator = await clients.connect(DEV_KEY);
  // The Worker has fetched no rate yet: start with one that is too old to use.
  await setRate({ usd: 100_000, ageSeconds: 11 * 60 });
});

afterAll(async () => {
  await clients.closeAll();
});

describe("X402 over USDC (EVM exact, Base Sepolia)", () => {
  const v2 = `${LAB.x402V2}/weather`;
  const v1 = `${LAB.x402V1}/quote`;

  it("without configure_x402: get_info says x402_ready false and a USDC paywall answers WALLET_NOT_CONFIGURED", async () => {
    expect((await call<{ x402_ready: boolean }>(operator, "get_info")).x402_ready).toBe(false);
    const agent = await newAgent();
    expect((await call<{ x402_ready: boolean }>(agent.client, "get_info")).x402_ready).toBe(false);
    const dry = await call<PaidApi>(agent.client, "pay_l402_api", { url: v2, dry_run: true });
    expect(dry).toMatchObject({ dry_run: true, payment_protocol: "x402", would_pay: false, usdc_amount: "0.01" });
    expect(dry.refusal?.code).toBe("WALLET_NOT_CONFIGURED");
    expect((await callError(agent.client, "pay_l402_api", { url: v2 })).code).toBe("WALLET_NOT_CONFIGURED");
    expect((await labState()).settlements).toHaveLength(0);
  });

  it("configure_x402 stores the key sealed and never returns it; get_info then says x402_ready", async () => {
    const bad = await callError(operator, "configure_x402", { evm_private_key: "zz".repeat(32) });
    expect(bad.code).toBe("INVALID_INPUT");
    expect(JSON.stringify(bad)).not.toContain("zz".repeat(32));
    const agent = await newAgent();
    // An agent cannot configure it.
    const denied = await agent.client.callTool({ name: "configure_x402", arguments: { evm_private_key: EVM_KEY } });
    expect(denied.isError).toBe(true);
    const r = await call<{ x402_ready: boolean; address: string; networks: string[]; spread_percent: number }>(
      operator,
      "configure_x402",
      { evm_private_key: EVM_KEY, networks: ["base-sepolia", "eip155:8453"] },
    );
    expect(r).toEqual({
      x402_ready: true,
      address: privateKeyToAccount(EVM_KEY as `0x${string}`).address,
      networks: ["eip155:84532", "eip155:8453"],
      spread_percent: 1,
    });
    expect(JSON.stringify(r).toLowerCase()).not.toContain(EVM_KEY.slice(2).toLowerCase());
    expect((await call<{ x402_ready: boolean }>(operator, "get_info")).x402_ready).toBe(true);
    expect((await call<{ x402_ready: boolean }>(agent.client, "get_info")).x402_ready).toBe(true);
  });

  it("no rate younger than 10 minutes: RATE_UNAVAILABLE, nothing reserved, signed away or settled", async () => {
    const agent = await newAgent();
    const dry = await call<PaidApi>(agent.client, "pay_l402_api", { url: v2, dry_run: true });
    expect(dry).toMatchObject({ would_pay: false, refusal: { code: "RATE_UNAVAILABLE" }, price_sats: null });
    const stale = await callError(agent.client, "pay_l402_api", { url: v2 });
    expect(stale.code).toBe("RATE_UNAVAILABLE");
    expect(stale.message).toMatch(/11 minutes old/);
    // The rate source down altogether: the same.
    await setRate({ usd: 100_000, status: 503 });
    expect((await callError(agent.client, "pay_l402_api", { url: v1 })).code).toBe("RATE_UNAVAILABLE");
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ balance_sats: 5000, reserved_sats: 0 });
    const lab = await labState();
    expect(lab.settlements).toHaveLength(0);
    expect(lab.stats.x402V2).toMatchObject({ paid: 0 });
    expect(lab.rateHits).toBeGreaterThanOrEqual(2);
  });

  it("v2 (@x402/hono paymentMiddleware): paid in USDC, settled at the facilitator, the converted sats debited", async () => {
    await setRate({ usd: 100_000 });
    const agent = await newAgent();
    // $0.01 at $100 000 per BTC is 10 sats; with the 1 % spread, 10.1 → 11 sats.
    const dry = await call<PaidApi>(agent.client, "pay_l402_api", { url: v2, dry_run: true });
    expect(dry).toMatchObject({
      payment_protocol: "x402",
      would_pay: true,
      price_sats: 11,
      usdc_amount: "0.01",
      btc_usd_rate: 100_000,
      spread_percent: 1,
      paid: false,
    });
    const r = await call<PaidApi>(agent.client, "pay_l402_api", { url: v2 });
    expect(r).toMatchObject({
      status: 200,
      paid: true,
      payment_protocol: "x402",
      usdc_amount: "0.01",
      btc_usd_rate: 100_000,
      spread_percent: 1,
      price_sats: 11,
      amount_sats: 11,
      fee_sats: 0,
      total_sats: 11,
      body: { report: "sunny", paid_with: "x402 v2" },
    });
    expect(r.headers["payment-response"]).toBeTruthy();
    expect(await balance(agent.client)).toBe(5000 - 11);
    const lab = await labState();
    expect(lab.settlements).toHaveLength(1);
    const s = lab.settlements[0]!;
    expect(s).toMatchObject({
      network: "eip155:84532",
      value: "10000",
      from: privateKeyToAccount(EVM_KEY as `0x${string}`).address,
    });
    expect(s.to.toLowerCase()).toBe(LAB.payTo.toLowerCase());
    // The ledger's payment hash stands for the signed authorization: sha256 of its nonce.
    expect(r.payment_hash).toBe(bytesToHex(sha256(hexToBytes(s.nonce.slice(2)))));
    const txs = (await call<{ transactions: Tx[] }>(agent.client, "get_transactions", { direction: "out" }))
      .transactions;
    expect(txs).toHaveLength(1);
    expect(txs[0]).toMatchObject({
      status: "succeeded",
      amount_sats: 11,
      fee_sats: 0,
      payment_hash: r.payment_hash,
      description: "X402 GET /weather (0.01 USDC)",
    });
    expect(lab.stats.x402V2).toMatchObject({ paid: 1 });
  });

  it("v1 (JSON accepts, X-PAYMENT, X-PAYMENT-RESPONSE): paid, and the cached rate is reused", async () => {
    const hitsBefore = (await labState()).rateHits;
    const agent = await newAgent();
    const r = await call<PaidApi>(agent.client, "pay_l402_api", { url: v1 });
    // $0.02 → 20 sats, + 1 % → 20.2 → 21 sats.
    expect(r).toMatchObject({
      status: 200,
      paid: true,
      payment_protocol: "x402",
      usdc_amount: "0.02",
      btc_usd_rate: 100_000,
      amount_sats: 21,
      body: { paid_with: "x402 v1" },
    });
    expect(r.headers["x-payment-response"]).toBeTruthy();
    expect(await balance(agent.client)).toBe(5000 - 21);
    const lab = await labState();
    expect(lab.settlements).toHaveLength(2);
    expect(lab.settlements[1]).toMatchObject({ value: "20000", network: "eip155:84532" });
    expect(lab.stats.x402V1).toMatchObject({ paid: 1 });
    // Fetched under 5 minutes ago: the source was not asked again.
    expect(lab.rateHits).toBe(hitsBefore);
  });

  it("a payment the facilitator refuses before settling (payer short of USDC): released, nothing spent", async () => {
    const agent = await newAgent({ initial_balance_sats: 300_000 });
    const e = await callError(agent.client, "pay_l402_api", {
      url: `${LAB.x402V2}/expensive`,
      max_payment_sats: 250_000,
    });
    expect(e.code).toBe("UPSTREAM_ERROR");
    expect(e.details).toMatchObject({ reason: "payment_refused", paid: false });
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({
      balance_sats: 300_000,
      reserved_sats: 0,
    });
    const txs = (await call<{ transactions: Tx[] }>(agent.client, "get_transactions", { direction: "out" }))
      .transactions;
    expect(txs.map((t) => t.status)).toEqual(["failed"]);
    expect((await labState()).settlements).toHaveLength(2);
  });

  it("limits in sats: max_payment_sats and the budget below the converted price refuse before anything is signed away", async () => {
    const agent = await newAgent({ budget_limit_sats: 5 });
    const tooMuch = await callError(agent.client, "pay_l402_api", { url: v2, max_payment_sats: 10 });
    expect(tooMuch.code).toBe("AMOUNT_TOO_LARGE");
    expect((await callError(agent.client, "pay_l402_api", { url: v2 })).code).toBe("BUDGET_EXCEEDED");
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ balance_sats: 5000, reserved_sats: 0 });
    const lab = await labState();
    expect(lab.settlements).toHaveLength(2);
    expect(lab.stats.x402V2).toMatchObject({ paid: 1 });
  });
});

describe("X402 over USDC: idempotency and an outcome that stays unknown", () => {
  it("an idempotency_key repeat returns the first result: one signature, one settlement, one debit", async () => {
    const agent = await newAgent();
    const settled = (await labState()).settlements.length;
    const args = { url: `${LAB.x402V2}/weather`, idempotency_key: "usdc-once" };
    const a = await call<PaidApi & { replayed: boolean }>(agent.client, "pay_l402_api", args);
    expect(a).toMatchObject({ paid: true, payment_protocol: "x402", amount_sats: 11, replayed: false });
    const b = await call<PaidApi & { replayed: boolean }>(agent.client, "pay_l402_api", args);
    expect(b).toEqual({ ...a, replayed: true });
    expect((await labState()).settlements).toHaveLength(settled + 1);
    expect(await balance(agent.client)).toBe(5000 - 11);
  });

  it("a paid request that never gets an answer: PAYMENT_PENDING, held (a repeat pays nothing) until the chain shows it expired unused", async () => {
    const agent = await newAgent();
    const settled = (await labState()).settlements.length;
    const args = { url: `${LAB.x402Lost}/quote`, idempotency_key: "usdc-lost" };
    const e = await callError(agent.client, "pay_l402_api", args);
    expect(e.code).toBe("PAYMENT_PENDING");
    expect(e.details).toMatchObject({ reason: "network" });
    // $0.02 → 21 sats, held: the API may have settled the authorization before the connection dropped.
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({
      balance_sats: 5000 - 21,
      reserved_sats: 21,
    });
    expect((await callError(agent.client, "pay_l402_api", args)).code).toBe("PAYMENT_PENDING");
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ reserved_sats: 21 });
    const lab = await labState();
    expect(lab.settlements).toHaveLength(settled);
    expect(lab.stats.x402Lost).toMatchObject({ paid: 0 });

    // The reconciler asks the chain: the authorization is unused but still valid, so the API could
    // still settle it. Held.
    expect(await reconcile(agent.id)).toEqual({ resolved: 0, stillPending: 1 });
    expect((await labState()).rpcCalls).toBeGreaterThan(lab.rpcCalls);
    // Hours later, with the chain unreachable: no answer is no answer. Still held.
    await setRpcDown(true);
    try {
      expect(await reconcile(agent.id, 3 * 3600_000)).toEqual({ resolved: 0, stillPending: 1 });
      expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ reserved_sats: 21 });
    } finally {
      await setRpcDown(false);
    }
    // The chain answers: never used, and past its validBefore it never can be. Released.
    expect(await reconcile(agent.id)).toEqual({ resolved: 1, stillPending: 0 });
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ balance_sats: 5000, reserved_sats: 0 });
    expect(await lastPayment(agent.client)).toMatchObject({ status: "failed", amount_sats: 21 });
  });
});

describe("X402 over USDC: a settled payment whose answer was lost", () => {
  it("the retry is refused (the nonce is spent): PAYMENT_PENDING, held; the chain shows it used: spent", async () => {
    const agent = await newAgent();
    const settled = (await labState()).settlements.length;
    const e = await callError(agent.client, "pay_l402_api", { url: `${LAB.x402Flaky}/quote` });
    expect(e.code).toBe("PAYMENT_PENDING");
    expect(e.details).toMatchObject({ reason: "refused_after_retry", http_status: 402 });
    // The facilitator did settle the first attempt: releasing the sats would charge the agent nothing for it.
    const lab = await labState();
    expect(lab.settlements).toHaveLength(settled + 1);
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({ reserved_sats: 21 });

    // The reconciler reads the authorization's state on the chain: used, so the 21 sats are spent.
    expect(await reconcile(agent.id)).toEqual({ resolved: 1, stillPending: 0 });
    expect(await call<Balance>(agent.client, "check_balance")).toMatchObject({
      balance_sats: 5000 - 21,
      reserved_sats: 0,
    });
    expect(await lastPayment(agent.client)).toMatchObject({ status: "succeeded", amount_sats: 21 });
  });
});

describe("X402 Lightning `exact` (bip122 network, invoice in the requirements)", () => {
  it("pays the invoice over Lightning and presents the preimage", async () => {
    const agent = await newAgent();
    const r = await call<PaidApi>(agent.client, "pay_l402_api", { url: `${LAB.x402Ln}/ln/map` });
    expect(r).toMatchObject({
      status: 200,
      paid: true,
      payment_protocol: "x402-lightning",
      amount_sats: 8,
      usdc_amount: null,
      body: { item: "map", paid_with: "x402 lightning" },
    });
    expect(r.preimage).toMatch(/^[0-9a-f]{64}$/);
    expect(r.headers["payment-response"]).toBeTruthy();
    expect(await balance(agent.client)).toBe(5000 - 8);
    expect((await labState()).stats.x402Ln).toMatchObject({ paid: 1 });
  });
});

describe("L402 servers Satchel did not write", () => {
  it("@getalby/lightning-tools' server helpers: paid once, then the token is reused", async () => {
    const agent = await newAgent();
    const url = `${LAB.alby}/alby/weather`;
    const first = await call<PaidApi>(agent.client, "pay_l402_api", { url });
    expect(first).toMatchObject({ status: 200, paid: true, payment_protocol: "l402", amount_sats: 12 });
    expect(first.body).toEqual({ item: "weather", data: "paid content from alby" });
    const again = await call<PaidApi>(agent.client, "pay_l402_api", { url });
    expect(again).toMatchObject({ status: 200, paid: false, token_reused: true });
    expect(await balance(agent.client)).toBe(5000 - 12);
  });

  it("Aperture-style binary macaroons (`macaroon` package), LSAT and L402 offered: POST paid with L402", async () => {
    const agent = await newAgent();
    const r = await call<PaidApi>(agent.client, "pay_l402_api", {
      url: `${LAB.aperture}/fortune`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(r).toMatchObject({ status: 200, paid: true, amount_sats: 15 });
    expect(r.body).toMatchObject({ fortune: "You will interoperate.", method: "POST" });
  });

  it("an LSAT-only server, and one sending `macaroon=` unquoted without commas", async () => {
    const agent = await newAgent();
    const lsat = await call<PaidApi>(agent.client, "pay_l402_api", { url: `${LAB.lsat}/x` });
    expect(lsat).toMatchObject({ status: 200, paid: true, amount_sats: 15 });
    const unquoted = await call<PaidApi>(agent.client, "pay_l402_api", { url: `${LAB.unquoted}/x` });
    expect(unquoted).toMatchObject({ status: 200, paid: true, amount_sats: 15 });
    expect(await balance(agent.client)).toBe(5000 - 30);
    const stats = (await labState()).stats;
    expect(stats.lsat).toMatchObject({ paidRequests: 1 });
    expect(stats.unquoted).toMatchObject({ paidRequests: 1 });
  });
});
