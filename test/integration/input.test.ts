import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../src/ledger/client";
import { TOOL_TABLE } from "../../src/mcp/tools/index";
import {
  codeOf,
  craftedInvoice,
  merchantInvoice,
  newAgent,
  newOperator,
  ok,
  snapshot,
  tool,
  walletBalanceMsat,
} from "./helpers";

/** Refused before anything happens: no reservation, no ledger entry, no wallet movement. */
async function expectRefused(args: Record<string, unknown>, code: string) {
  const { principal: op } = await newOperator();
  const { agentId, principal } = await newAgent(op, { max_per_payment_sats: 1000 });
  const before = await walletBalanceMsat(op.operatorId);
  const r = await tool(principal, "pay_invoice", args);
  expect(codeOf(r)).toBe(code);
  const body = r.structuredContent as { message: string; hint?: string };
  expect(body.message.length).toBeGreaterThan(0);
  expect(body.message.length).toBeLessThan(500);
  const s = await snapshot(agentId);
  expect([s.reservedMsat, s.spentMsat]).toEqual([0, 0]);
  const history = await ledgerStub(env, agentId).history({ limit: 10, offset: 0, direction: "out" });
  expect(history.ok && history.value).toEqual([]);
  expect(await walletBalanceMsat(op.operatorId)).toBe(before);
  return body;
}

describe("bad invoices are refused before any money moves", () => {
  it("expired invoice", async () => {
    const { invoice } = craftedInvoice({
      sats: 10,
      timestamp: Math.floor(Date.now() / 1000) - 7200,
      expirySeconds: 60,
    });
    const body = await expectRefused({ invoice }, "INVOICE_EXPIRED");
    expect(body.hint).toBeTruthy();
  });

  it("above the caller's max_payment_sats, and above the agent's per-payment limit", async () => {
    await expectRefused({ invoice: await merchantInvoice(50), max_payment_sats: 49 }, "AMOUNT_TOO_LARGE");
    await expectRefused({ invoice: await merchantInvoice(1001) }, "AMOUNT_TOO_LARGE");
  });

  it("zero-amount invoice without amount_sats", async () => {
    await expectRefused({ invoice: craftedInvoice({}).invoice }, "AMOUNT_REQUIRED");
  });

  it("amount_sats that contradicts the invoice", async () => {
    await expectRefused({ invoice: await merchantInvoice(10), amount_sats: 11 }, "AMOUNT_MISMATCH");
  });

  it("malformed invoices", async () => {
    await expectRefused({ invoice: "lnbcrt1garbagegarbage" }, "INVALID_INVOICE");
    const valid = await merchantInvoice(10);
    await expectRefused({ invoice: valid.slice(0, -1) + (valid.endsWith("q") ? "p" : "q") }, "INVALID_INVOICE");
  });

  it("an invoice for another network", async () => {
    await expectRefused({ invoice: craftedInvoice({ sats: 10, network: "bitcoin" }).invoice }, "WRONG_NETWORK");
    await expectRefused({ invoice: craftedInvoice({ sats: 10, network: "testnet" }).invoice }, "WRONG_NETWORK");
  });

  it("oversized and ill-typed inputs", async () => {
    await expectRefused({ invoice: "lnbcrt" + "q".repeat(5000) }, "INVALID_INPUT");
    await expectRefused({ invoice: await merchantInvoice(10), idempotency_key: "k".repeat(129) }, "INVALID_INPUT");
    await expectRefused({ invoice: await merchantInvoice(10), max_payment_sats: -1 }, "INVALID_INPUT");
    await expectRefused({ invoice: await merchantInvoice(10), max_payment_sats: 1.5 }, "INVALID_INPUT");
    await expectRefused({ invoice: 42 }, "INVALID_INPUT");
    await expectRefused({ invoice: await merchantInvoice(10), surprise: true }, "INVALID_INPUT");
    await expectRefused({}, "INVALID_INPUT");
  });
});

describe("every tool validates its input with a coded error", () => {
  it.each(TOOL_TABLE.map((t) => [t.name]))("%s rejects an unknown argument and an oversized string", async (name) => {
    const { principal: op } = await newOperator();
    const { agentId } = await newAgent(op);
    const extra = TOOL_TABLE.find((t) => t.name === name)!.audience === "agent" ? { agent_id: agentId } : {};
    const unknown = await tool(op, name, { ...extra, not_a_parameter: "x".repeat(10_000) });
    expect(codeOf(unknown)).toBe("INVALID_INPUT");
    expect((unknown.structuredContent as { hint: string }).hint).toBeTruthy();
  });

  it("an error raised without a hint still reaches the caller with its code's hint", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    const own = ok<{ invoice: string }>(await tool(principal, "create_invoice", { amount_sats: 3 }));
    const r = await tool(principal, "pay_invoice", { invoice: own.invoice });
    expect(codeOf(r)).toBe("INVALID_INPUT");
    expect((r.structuredContent as { hint: string }).hint.length).toBeGreaterThan(10);
  });

  it("create_invoice bounds amount, description and expiry", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    expect(codeOf(await tool(principal, "create_invoice", { amount_sats: 0 }))).toBe("INVALID_INPUT");
    expect(codeOf(await tool(principal, "create_invoice", { amount_sats: 1, description: "é".repeat(400) }))).toBe(
      "INVALID_INPUT",
    );
    expect(codeOf(await tool(principal, "create_invoice", { amount_sats: 1, expiry_seconds: 10 }))).toBe(
      "INVALID_INPUT",
    );
    ok(await tool(principal, "create_invoice", { amount_sats: 1 }));
  });

  it("decode_invoice reports fields and expiry without paying", async () => {
    const { principal: op } = await newOperator();
    const expired = craftedInvoice({ sats: 7, timestamp: 1_700_000_000, expirySeconds: 60 });
    const d = ok<{ amount_sats: number; payment_hash: string; is_expired: boolean; network: string }>(
      await tool(op, "decode_invoice", { invoice: expired.invoice }),
    );
    expect(d).toMatchObject({
      amount_sats: 7,
      payment_hash: expired.paymentHash,
      is_expired: true,
      network: "regtest",
    });
    expect(codeOf(await tool(op, "decode_invoice", { invoice: "not an invoice" }))).toBe("INVALID_INVOICE");
  });
});
