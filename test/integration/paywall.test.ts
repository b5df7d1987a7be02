import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTransportForTests } from "../../src/paywall/http";
import { recordsWritten, type PayApiResult } from "../../src/paywall/pay";
import { listCalls } from "../../src/paywall/store";
import { albyServer, apertureServer, hostileServer } from "../support/paywalls";
import { codeOf, journal, newAgent, newOperator, ok, snapshot, tool, walletBalanceMsat } from "./helpers";
import { failNext, installTransport, merchantInvoices, serve } from "./paywall-support";

type Paid = PayApiResult;

beforeAll(() => installTransport());
afterAll(() => setTransportForTests(null));

async function buyer(args: Record<string, unknown> = {}) {
  const { principal: op } = await newOperator();
  const agent = await newAgent(op, args);
  return { op, ...agent };
}

describe("L402 servers Satchel did not write", () => {
  it("@getalby/lightning-tools server helpers (token=, no comma after version): pays once, then reuses the token", async () => {
    const alby = albyServer(merchantInvoices);
    serve("alby.test", alby.app);
    const { op, agentId, principal } = await buyer();
    const before = await walletBalanceMsat(op.operatorId);
    const first = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://alby.test/alby/weather" }));
    expect(first).toMatchObject({ status: 200, paid: true, payment_protocol: "l402", amount_sats: 12, total_sats: 12 });
    expect(first.body).toEqual({ item: "weather", data: "paid content from alby" });
    expect(first.preimage).toMatch(/^[0-9a-f]{64}$/);
    const second = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://alby.test/alby/weather" }));
    expect(second).toMatchObject({ status: 200, paid: false, token_reused: true, amount_sats: 0 });
    expect(before - (await walletBalanceMsat(op.operatorId))).toBe(12_000);
    expect((await snapshot(agentId)).spentMsat).toBe(12_000);
    expect(alby.stats).toMatchObject({ challenges: 1, paidRequests: 2 });
    const out = (await journal(agentId)).filter((r) => r.direction === "out");
    expect(out).toHaveLength(1);
    const row = await env.DB.prepare("SELECT host, description FROM transactions WHERE id = ?")
      .bind(out[0]!.id)
      .first();
    expect(row).toEqual({ host: "alby.test", description: "L402 GET /alby/weather" });
    await recordsWritten();
    const calls = await listCalls(env.DB, agentId);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ protocol: "l402", outcome: "paid", path: "/alby/weather", amount_msat: 12_000 });
  });

  it("Aperture-style binary macaroons (`macaroon` package), LSAT and L402 headers: answers with L402", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("aperture.test", ap.app);
    const { principal } = await buyer();
    const r = ok<Paid>(
      await tool(principal, "pay_l402_api", {
        url: "https://aperture.test/fortune",
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }),
    );
    expect(r).toMatchObject({ status: 200, paid: true, amount_sats: 15 });
    expect(r.body).toMatchObject({ fortune: "You will interoperate.", method: "POST" });
  });

  it("an LSAT-only server gets an LSAT credential", async () => {
    const ap = apertureServer(merchantInvoices, "lsat-only");
    serve("lsat.test", ap.app);
    const { principal } = await buyer();
    const r = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://lsat.test/x" }));
    expect(r).toMatchObject({ status: 200, paid: true });
    expect(ap.stats.paidRequests).toBe(1);
  });

  it("`macaroon=` unquoted, without commas", async () => {
    const ap = apertureServer(merchantInvoices, "macaroon-unquoted");
    serve("unquoted.test", ap.app);
    const { principal } = await buyer();
    expect(ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://unquoted.test/x" }))).toMatchObject({
      status: 200,
      paid: true,
    });
  });
});

describe("a hostile paywall: a coded error, and never more spent than the checks allowed", () => {
  const setup = async (args: Record<string, unknown> = {}) => {
    const hostile = hostileServer(merchantInvoices, { evilRedirect: "https://evil.test/steal" });
    const host = `hostile-${crypto.randomUUID().slice(0, 8)}.test`;
    serve(host, hostile.app);
    const b = await buyer(args);
    const before = await walletBalanceMsat(b.op.operatorId);
    const spent = async () => ({
      wallet: before - (await walletBalanceMsat(b.op.operatorId)),
      ledger: (await snapshot(b.agentId)).spentMsat,
      reserved: (await snapshot(b.agentId)).reservedMsat,
    });
    const call = (path: string, extra: Record<string, unknown> = {}) =>
      tool(b.principal, "pay_l402_api", { url: `https://${host}${path}`, ...extra });
    return { ...b, hostile, host, spent, call };
  };
  const nothing = { wallet: 0, ledger: 0, reserved: 0 };

  it("invoice above max_payment_sats", async () => {
    const t = await setup();
    const r = await t.call("/above-max", { max_payment_sats: 100 });
    expect(codeOf(r)).toBe("AMOUNT_TOO_LARGE");
    expect(await t.spent()).toEqual(nothing);
  });

  it("invoice above the agent's per-payment limit (the default max)", async () => {
    const t = await setup({ max_per_payment_sats: 50 });
    expect(codeOf(await t.call("/above-max"))).toBe("AMOUNT_TOO_LARGE");
    expect(await t.spent()).toEqual(nothing);
  });

  it("payment hash of the macaroon differs from the invoice's", async () => {
    const t = await setup();
    expect(codeOf(await t.call("/hash-mismatch"))).toBe("INVALID_CHALLENGE");
    expect(await t.spent()).toEqual(nothing);
  });

  it("expired invoice", async () => {
    const t = await setup();
    expect(codeOf(await t.call("/expired"))).toBe("INVOICE_EXPIRED");
    expect(await t.spent()).toEqual(nothing);
  });

  it("garbage headers, and a 402 with no challenge at all", async () => {
    const t = await setup();
    expect(codeOf(await t.call("/garbage"))).toBe("UNSUPPORTED_CHALLENGE");
    expect(codeOf(await t.call("/no-challenge"))).toBe("UNSUPPORTED_CHALLENGE");
    expect(await t.spent()).toEqual(nothing);
  });

  it("402 again after payment (a 402 loop): paid once, then UPSTREAM_ERROR with the payment in details", async () => {
    const t = await setup();
    const r = await t.call("/always-402");
    expect(codeOf(r)).toBe("UPSTREAM_ERROR");
    const details = (r.structuredContent as { details: Record<string, unknown> }).details;
    expect(details).toMatchObject({ paid: true, amount_sats: 7, reason: "paid_credential_refused" });
    expect(details.credential).toMatch(/^L402 \S+:[0-9a-f]{64}$/);
    expect(await t.spent()).toEqual({ wallet: 7000, ledger: 7000, reserved: 0 });
    expect(t.hostile.stats.paidRequests).toBe(1);
  });

  it("a huge body after payment: refused after reading the limit; the payment stands, nothing more", async () => {
    const t = await setup();
    const r = await t.call("/huge");
    expect(codeOf(r)).toBe("UPSTREAM_ERROR");
    expect((r.structuredContent as { details: Record<string, unknown> }).details).toMatchObject({
      reason: "too_large",
      paid: true,
    });
    expect(await t.spent()).toEqual({ wallet: 9000, ledger: 9000, reserved: 0 });
  });

  it("a slow body: the total timeout ends it; the token is cached so a retry pays nothing", async () => {
    const t = await setup();
    const { payApi } = await import("../../src/paywall/pay");
    const ctx = { env, agentId: t.agentId, operatorId: t.op.operatorId, sessionId: "s" };
    const req = { url: `https://${t.host}/slow`, method: "GET" as const, headers: {}, dryRun: false };
    await expect(payApi(ctx, req, { limits: { totalTimeoutMs: 300 } })).rejects.toMatchObject({
      code: "UPSTREAM_ERROR",
      details: { reason: "timeout", paid: true },
    });
    expect(await t.spent()).toEqual({ wallet: 8000, ledger: 8000, reserved: 0 });
    await expect(payApi(ctx, req, { limits: { totalTimeoutMs: 300 } })).rejects.toMatchObject({
      code: "UPSTREAM_ERROR",
    });
    expect(await t.spent()).toEqual({ wallet: 8000, ledger: 8000, reserved: 0 });
  });

  it("a redirect to a host outside allowed_hosts: refused before that request", async () => {
    const t = await setup();
    await tool(t.op, "set_budget", { agent_id: t.agentId, allowed_hosts: [t.host] });
    let evil = 0;
    serve("evil.test", { fetch: () => (evil++, new Response("stolen")) });
    expect(codeOf(await t.call("/redirect-out"))).toBe("HOST_NOT_ALLOWED");
    expect(evil).toBe(0);
    expect(await t.spent()).toEqual(nothing);
  });

  it("a redirect loop: UPSTREAM_ERROR after the redirect limit", async () => {
    const t = await setup();
    expect(codeOf(await t.call("/redirect-loop"))).toBe("UPSTREAM_ERROR");
    expect(t.hostile.stats.requests).toBe(4);
  });

  it("a host outside allowed_hosts is refused before any request; plain http off loopback is refused", async () => {
    const t = await setup();
    await tool(t.op, "set_budget", { agent_id: t.agentId, allowed_hosts: ["other.test"] });
    expect(codeOf(await t.call("/above-max"))).toBe("HOST_NOT_ALLOWED");
    expect(t.hostile.stats.requests).toBe(0);
    expect(codeOf(await tool(t.principal, "pay_l402_api", { url: `http://${t.host}/x` }))).toBe("INVALID_INPUT");
    expect(codeOf(await tool(t.principal, "pay_l402_api", { url: "ftp://x.test/x" }))).toBe("INVALID_INPUT");
  });

  it("an unreachable host: UPSTREAM_ERROR, nothing spent", async () => {
    const t = await setup();
    const r = await tool(t.principal, "pay_l402_api", { url: "https://nowhere.test/x" });
    expect(codeOf(r)).toBe("UPSTREAM_ERROR");
    expect(await t.spent()).toEqual(nothing);
  });

  it("a budget smaller than the price: BUDGET_EXCEEDED from the ledger, nothing spent", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("budget.test", ap.app);
    const b = await buyer({ budget_limit_sats: 10 });
    expect(codeOf(await tool(b.principal, "pay_l402_api", { url: "https://budget.test/x" }))).toBe("BUDGET_EXCEEDED");
    expect((await snapshot(b.agentId)).spentMsat).toBe(0);
  });
});

describe("bodies", () => {
  it("text is capped with a note; binary is summarised", async () => {
    const hostile = hostileServer(merchantInvoices, { evilRedirect: "https://evil.test/" });
    serve("bodies.test", hostile.app);
    const { principal } = await buyer();
    const big = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://bodies.test/big-free" }));
    expect(big).toMatchObject({ status: 200, paid: false, truncated: true, body_type: "text" });
    expect((big.body as string).length).toBe(32_768);
    expect(big.note).toMatch(/truncated/);
    const bin = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://bodies.test/binary" }));
    expect(bin).toMatchObject({ body_type: "binary", body: { bytes: 4, content_type: "image/png" } });
  });
});

describe("tokens, concurrency, dry runs and idempotency", () => {
  it("20 parallel calls to one L402 URL by one agent pay once and reuse the token", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("busy.test", ap.app);
    const { op, agentId, principal } = await buyer({ budget_limit_sats: 100 });
    const before = await walletBalanceMsat(op.operatorId);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => tool(principal, "pay_l402_api", { url: "https://busy.test/fortune" })),
    );
    const oks = results.map((r) => ok<Paid>(r));
    expect(oks.every((r) => r.status === 200)).toBe(true);
    expect(oks.filter((r) => r.paid)).toHaveLength(1);
    expect(before - (await walletBalanceMsat(op.operatorId))).toBe(15_000);
    expect((await snapshot(agentId)).spentMsat).toBe(15_000);
  }, 30_000);

  it("a refused cached token never leads to a payment above the limits", async () => {
    const { agentId, principal } = await buyer();
    serve("rotating.test", apertureServer(merchantInvoices).app);
    ok(await tool(principal, "pay_l402_api", { url: "https://rotating.test/a" }));
    // The server rotates its root key and raises its price: the cached token is refused.
    serve("rotating.test", apertureServer(merchantInvoices, "aperture", new Uint8Array(32).fill(7), 5000).app);
    const r = await tool(principal, "pay_l402_api", { url: "https://rotating.test/a", max_payment_sats: 100 });
    expect(codeOf(r)).toBe("AMOUNT_TOO_LARGE");
    expect((await snapshot(agentId)).spentMsat).toBe(15_000);
  });

  it("a paid retry that fails on the network is sent again with the same token, never paid again", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("flaky.test", ap.app);
    const { agentId, principal } = await buyer();
    // The first request passes; the paid request fails twice on the network, then gets through.
    let n = 0;
    serve("flaky.test", {
      fetch: (req: Request) => {
        n++;
        if (n === 2) failNext("flaky.test", 2);
        return ap.app.fetch(req);
      },
    });
    const r = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://flaky.test/x" }));
    expect(r).toMatchObject({ status: 200, paid: true });
    expect((await snapshot(agentId)).spentMsat).toBe(15_000);
    expect(ap.stats.challenges).toBe(1);
  });

  it("dry_run reports protocol and price and pays nothing", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("dry.test", ap.app);
    const { op, agentId, principal } = await buyer();
    const before = await walletBalanceMsat(op.operatorId);
    const r = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://dry.test/x", dry_run: true }));
    expect(r).toMatchObject({ dry_run: true, paid: false, payment_protocol: "l402", price_sats: 15, would_pay: true });
    const low = ok<Paid>(
      await tool(principal, "pay_l402_api", { url: "https://dry.test/x", dry_run: true, max_payment_sats: 5 }),
    );
    expect(low).toMatchObject({ would_pay: false, refusal: { code: "AMOUNT_TOO_LARGE" } });
    expect(await walletBalanceMsat(op.operatorId)).toBe(before);
    expect((await snapshot(agentId)).spentMsat).toBe(0);
    expect(ap.stats.paidRequests).toBe(0);
  });

  it("idempotency_key repeats return the first result", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("idem.test", ap.app);
    const { agentId, principal } = await buyer();
    const a = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://idem.test/x", idempotency_key: "job-1" }));
    const b = ok<Paid>(await tool(principal, "pay_l402_api", { url: "https://idem.test/x", idempotency_key: "job-1" }));
    expect(a.replayed).toBe(false);
    expect(b).toEqual({ ...a, replayed: true });
    expect(ap.stats.requests).toBe(2);
    expect((await snapshot(agentId)).spentMsat).toBe(15_000);
  });
});

describe("charging others: create_l402_challenge and verify_l402_payment", () => {
  it("a buyer pays a seller's challenge; the seller verifies it; tampering and strangers fail", async () => {
    const { principal: op } = await newOperator();
    const seller = await newAgent(op);
    const buyerAgent = await newAgent(op);
    const ch = ok<{ invoice: string; macaroon: string; payment_hash: string; www_authenticate: string }>(
      await tool(seller.principal, "create_l402_challenge", { resource: "/reports/42", price_sats: 30 }),
    );
    expect(ch.www_authenticate).toContain(`macaroon="${ch.macaroon}"`);
    const before = ok<{ valid: boolean; reason: string }>(
      await tool(seller.principal, "verify_l402_payment", { token: `${ch.macaroon}:${"0".repeat(64)}` }),
    );
    expect(before).toMatchObject({ valid: false, reason: "preimage_mismatch" });
    const paid = ok<{ token: string; authorization: string; amount_sats: number; preimage: string }>(
      await tool(buyerAgent.principal, "pay_l402_challenge", { invoice: ch.invoice, macaroon: ch.macaroon }),
    );
    expect(paid.amount_sats).toBe(30);
    expect(paid.authorization).toBe(`L402 ${paid.token}`);
    const v = ok<{ valid: boolean; reason: string; resource: string; payment_hash: string }>(
      await tool(seller.principal, "verify_l402_payment", { token: paid.authorization, resource: "/reports/42" }),
    );
    expect(v).toMatchObject({ valid: true, reason: "valid", resource: "/reports/42", payment_hash: ch.payment_hash });
    const lsat = ok<{ valid: boolean }>(
      await tool(seller.principal, "verify_l402_payment", { token: `LSAT ${paid.token}` }),
    );
    expect(lsat.valid).toBe(true);
    const wrongResource = ok<{ reason: string }>(
      await tool(seller.principal, "verify_l402_payment", { token: paid.token, resource: "/reports/43" }),
    );
    expect(wrongResource.reason).toBe("wrong_resource");
    const stranger = ok<{ reason: string }>(
      await tool(buyerAgent.principal, "verify_l402_payment", { token: paid.token }),
    );
    expect(stranger.reason).toBe("bad_signature");
    const tampered = paid.token.replace(/^(.{20})./, (_m, p: string) => `${p}${p.endsWith("A") ? "B" : "A"}`);
    const t = ok<{ valid: boolean }>(await tool(seller.principal, "verify_l402_payment", { token: tampered }));
    expect(t.valid).toBe(false);
    expect(ok<{ balance_sats: number }>(await tool(seller.principal, "check_balance")).balance_sats).toBe(10_030);
  });
});

describe("an unknown payment outcome", () => {
  it("PAYMENT_PENDING keeps the idempotency_key: a repeat returns the same error and pays nothing", async () => {
    const ap = apertureServer(merchantInvoices);
    serve("pending.test", ap.app);
    const { op, agentId, principal } = await buyer();
    const { setMode } = await import("./helpers");
    await setMode(op.operatorId, "timeout");
    const args = { url: "https://pending.test/x", idempotency_key: "k-pending" };
    expect(codeOf(await tool(principal, "pay_l402_api", args))).toBe("PAYMENT_PENDING");
    await setMode(op.operatorId, "normal");
    expect(codeOf(await tool(principal, "pay_l402_api", args))).toBe("PAYMENT_PENDING");
    expect(ap.stats.challenges).toBe(1);
    expect((await snapshot(agentId)).reservedMsat).toBe(15_000);
  });
});
