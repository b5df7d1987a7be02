// Real wallets end to end: a Satchel of its own (wrangler dev, test/support/nwc/global-setup.ts)
// driven by the official MCP client, paying through the wallet lab on loopback — a Nostr relay
// with @getalby/sdk's NWCWalletService, an LNbits-style API and LNURL services — all backed by
// one test Lightning network of signed BOLT 11 invoices. No internet, no sleeps: "never answers"
// waits for Satchel's own (short, configured) reply timeout.
import type { Client } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { z } from "zod";
import type { PaymentOutput } from "../../src/mcp/schemas";
import { labControl } from "../support/nwc/control";
import { call, callError, mcpClients } from "./mcp-client";

const BASE = inject("walletSatchelUrl");
const DEV_KEY = inject("walletSatchelDevKey");
const LAB = inject("labUrl");
const clients = mcpClients("satchel-wallet-e2e", () => BASE);

/** What the money-moving tools answer (their zod output schema). */
type Payment = z.infer<typeof PaymentOutput>;

afterAll(async () => {
  await clients.closeAll();
});

const lab = <T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}) =>
  labControl<T>(LAB, op, args);

let op: Client;
/** A fresh agent of the operator with a balance; returns its client. */
async function agent(balance = 10_000, limits: Record<string, unknown> = {}): Promise<Client> {
  const a = await call<{ api_key: string }>(op, "create_agent", {
    name: `wallet-e2e-${clients.count}`,
    initial_balance_sats: balance,
    ...limits,
  });
  return clients.connect(a.api_key);
}
const merchantInvoice = (sats: number) =>
  lab<{ invoice: string; payment_hash: string }>("invoice", { amount_sats: sats });
const attempts = async (hash: string) => (await lab<{ attempts: number }>("attempts", { payment_hash: hash })).attempts;

beforeAll(async () => {
  op = await clients.connect(DEV_KEY);
});

describe("NWC", () => {
  it("connects a NIP-44 wallet, reports its capabilities, and pays through it once", async () => {
    const w = await lab<{ uri: string; id: string }>("nwc_wallet", { kind: "nip44", startSats: 50_000 });
    const c = await call<{ wallet: Record<string, unknown>; balance_sats: number; warnings: string[] }>(
      op,
      "connect_wallet",
      { type: "nwc", uri: w.uri },
    );
    expect(c.wallet).toMatchObject({
      kind: "nwc",
      encryption: "nip44_v2",
      can_pay: true,
      keysend: true,
      network: "regtest",
    });
    expect(c.wallet.methods).toEqual(
      expect.arrayContaining(["pay_invoice", "lookup_payment", "keysend", "make_invoice"]),
    );
    expect(c.balance_sats).toBe(50_000);
    expect(c.warnings).toEqual([]);
    const info = await call<{ wallet: { kind: string; methods: string[] } }>(op, "get_info");
    expect(info.wallet.kind).toBe("nwc");

    const a = await agent();
    const inv = await merchantInvoice(120);
    const paid = await call<Payment>(a, "pay_invoice", { invoice: inv.invoice, idempotency_key: "nwc-1" });
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 120, fee_sats: 0, total_sats: 120 });
    expect(paid.preimage).toMatch(/^[0-9a-f]{64}$/);
    // Retried with the key: the first result; without: ALREADY_PAID. The wallet saw one payment.
    expect(await call<Payment>(a, "pay_invoice", { invoice: inv.invoice, idempotency_key: "nwc-1" })).toMatchObject({
      replayed: true,
    });
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice })).code).toBe("ALREADY_PAID");
    expect(await attempts(inv.payment_hash)).toBe(1);
    expect((await lab<{ balance_msat: number }>("node", { node: w.id })).balance_msat).toBe(50_000_000 - 120_000);
  });

  it("an invoice issued through the NWC wallet is credited when paid", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip44" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const a = await agent(0);
    const made = await call<{ invoice: string; payment_hash: string }>(a, "create_invoice", { amount_sats: 77 });
    await lab("node", { node: "payer", start_msat: 1_000_000_000 });
    // The lab's payer node pays it over the test network; the agent sees it on lookup.
    expect(await lab("pay", { node: "payer", invoice: made.invoice })).toMatchObject({ status: "succeeded" });
    const s = await call<{ paid: boolean; amount_sats: number }>(a, "get_invoice_status", {
      payment_hash: made.payment_hash,
    });
    expect(s).toMatchObject({ paid: true, amount_sats: 77 });
    expect(await call<{ balance_sats: number }>(a, "check_balance")).toMatchObject({ balance_sats: 77 });
  });

  it("speaks NIP-04 to an older wallet that publishes no encryption tag", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip04" });
    const c = await call<{ wallet: { encryption: string }; warnings: string[] }>(op, "connect_wallet", {
      type: "nwc",
      uri: w.uri,
    });
    expect(c.wallet.encryption).toBe("nip04");
    expect(c.warnings.join(" ")).toMatch(/NIP-04/);
    const a = await agent();
    const inv = await merchantInvoice(33);
    expect(await call<Payment>(a, "pay_invoice", { invoice: inv.invoice })).toMatchObject({ status: "succeeded" });
  });

  it("a wallet that answers without a preimage: the payment counts, and the answer says preimage null", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "no_preimage" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const a = await agent();
    const inv = await merchantInvoice(10);
    const paid = await call<Payment>(a, "pay_invoice", { invoice: inv.invoice });
    expect(paid).toMatchObject({ status: "succeeded", preimage: null, total_sats: 10 });
  });

  it("a wallet that never answers: PAYMENT_PENDING, the sats stay reserved, and no second payment goes out", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "silent" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const a = await agent(1000);
    const inv = await merchantInvoice(300);
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice })).code).toBe("PAYMENT_PENDING");
    expect(await call<{ reserved_sats: number }>(a, "get_budget_status")).toMatchObject({ reserved_sats: 300 });
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice })).code).toBe("PAYMENT_PENDING");
    expect(await attempts(inv.payment_hash)).toBe(0);
  });

  it("the relay drops the connection mid-payment: pending, never paid twice, and the wallet has the payment", async () => {
    const w = await lab<{ uri: string; id: string }>("nwc_wallet", { kind: "nip44", dropAfterPay: true });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const a = await agent(1000);
    const inv = await merchantInvoice(250);
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice, idempotency_key: "drop-1" })).code).toBe(
      "PAYMENT_PENDING",
    );
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice, idempotency_key: "drop-1" })).code).toBe(
      "PAYMENT_PENDING",
    );
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice })).code).toBe("PAYMENT_PENDING");
    expect(await attempts(inv.payment_hash)).toBe(1);
    expect(await lab("invoice_status", { payment_hash: inv.payment_hash })).toMatchObject({ status: "paid" });
    expect(await call<{ reserved_sats: number }>(a, "get_budget_status")).toMatchObject({ reserved_sats: 250 });
  });

  it.each([
    ["INSUFFICIENT_BALANCE", "INSUFFICIENT_BALANCE"],
    ["QUOTA_EXCEEDED", "BUDGET_EXCEEDED"],
    ["RATE_LIMITED", "RATE_LIMITED"],
    ["RESTRICTED", "FORBIDDEN"],
    ["UNAUTHORIZED", "WALLET_NOT_CONFIGURED"],
    ["NOT_IMPLEMENTED", "UNSUPPORTED"],
    ["PAYMENT_FAILED", "PAYMENT_FAILED"],
    ["INTERNAL", "PAYMENT_PENDING"],
    ["OTHER", "PAYMENT_PENDING"],
  ])("wallet error %s → %s, with a hint; refusals release the reservation", async (walletCode, satchelCode) => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip44", payError: walletCode });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const a = await agent(1000);
    const e = await callError(a, "pay_invoice", { invoice: (await merchantInvoice(40)).invoice });
    expect(e.code).toBe(satchelCode);
    expect(e.hint ?? "").not.toBe("");
    const reserved = (await call<{ reserved_sats: number }>(a, "get_budget_status")).reserved_sats;
    expect(reserved).toBe(satchelCode === "PAYMENT_PENDING" ? 40 : 0);
  });

  it("keysend: a message as TLV, reserved and settled through the ledger", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip44" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const dest = await lab<{ pubkey: string; balance_msat: number }>("node", { node: "keysend-payee" });
    const a = await agent(1000);
    const paid = await call<Payment>(a, "keysend", {
      destination: dest.pubkey,
      amount_sats: 21,
      message: "hello from an agent",
      idempotency_key: "ks-1",
    });
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 21, total_sats: 21 });
    expect(
      await call<Payment>(a, "keysend", { destination: dest.pubkey, amount_sats: 21, idempotency_key: "ks-1" }),
    ).toMatchObject({
      replayed: true,
    });
    expect((await lab<{ balance_msat: number }>("node", { node: "keysend-payee" })).balance_msat).toBe(
      dest.balance_msat + 21_000,
    );
    expect((await callError(a, "keysend", { destination: "02" + "zz".repeat(32), amount_sats: 1 })).code).toBe(
      "INVALID_INPUT",
    );
  });

  it("refuses a URI that is not NWC and keeps the working wallet", async () => {
    expect((await callError(op, "connect_wallet", { type: "nwc", uri: "https://example.com" })).code).toBe(
      "INVALID_INPUT",
    );
    expect((await callError(op, "connect_wallet", { type: "nwc" })).code).toBe("INVALID_INPUT");
  });
});

describe("LNbits", () => {
  it("admin key pays; invoice key only receives and paying says so", async () => {
    const w = await lab<{ url: string; admin_key: string; invoice_key: string; id: string }>("lnbits_wallet", {});
    const admin = await call<{ wallet: { can_pay: boolean; kind: string }; balance_sats: number }>(
      op,
      "connect_wallet",
      {
        type: "lnbits",
        url: w.url,
        api_key: w.admin_key,
      },
    );
    expect(admin.wallet).toMatchObject({ kind: "lnbits", can_pay: true });
    const a = await agent();
    const inv = await merchantInvoice(55);
    expect(await call<Payment>(a, "pay_invoice", { invoice: inv.invoice })).toMatchObject({
      status: "succeeded",
      total_sats: 55,
    });
    // Receiving: an invoice issued through LNbits, paid by the lab, credited on lookup.
    const made = await call<{ invoice: string; payment_hash: string }>(a, "create_invoice", { amount_sats: 8 });
    expect(made.invoice).toMatch(/^lnbcrt/);

    const ro = await call<{ wallet: { can_pay: boolean }; warnings: string[] }>(op, "connect_wallet", {
      type: "lnbits",
      url: w.url,
      api_key: w.invoice_key,
    });
    expect(ro.wallet.can_pay).toBe(false);
    expect(ro.warnings.join(" ")).toMatch(/receive but not pay/);
    const b = await agent();
    const refused = await callError(b, "pay_invoice", { invoice: (await merchantInvoice(5)).invoice });
    expect(refused.code).toBe("FORBIDDEN");
    expect(await call<{ reserved_sats: number }>(b, "get_budget_status")).toMatchObject({ reserved_sats: 0 });
  });

  it("the older response shape, a failure, and a pending payment", async () => {
    const w = await lab<{ url: string; admin_key: string; id: string }>("lnbits_wallet", { shape: "old" });
    await call(op, "connect_wallet", { type: "lnbits", url: w.url, api_key: w.admin_key });
    const a = await agent();
    const ok = await call<Payment>(a, "pay_invoice", { invoice: (await merchantInvoice(12)).invoice });
    expect(ok).toMatchObject({ status: "succeeded" });
    expect(ok.preimage).toMatch(/^[0-9a-f]{64}$/);

    await lab("mode", { node: w.id, mode: "fail" });
    expect((await callError(a, "pay_invoice", { invoice: (await merchantInvoice(13)).invoice })).code).toBe(
      "PAYMENT_PENDING",
    );

    const cur = await lab<{ url: string; admin_key: string; id: string }>("lnbits_wallet", {});
    await call(op, "connect_wallet", { type: "lnbits", url: cur.url, api_key: cur.admin_key });
    await lab("mode", { node: cur.id, mode: "fail" });
    expect((await callError(a, "pay_invoice", { invoice: (await merchantInvoice(14)).invoice })).code).toBe(
      "PAYMENT_FAILED",
    );
    await lab("mode", { node: cur.id, mode: "pending" });
    const inv = await merchantInvoice(15);
    expect((await callError(a, "pay_invoice", { invoice: inv.invoice })).code).toBe("PAYMENT_PENDING");
    expect(await call<{ reserved_sats: number }>(a, "get_budget_status")).toMatchObject({ reserved_sats: 13 + 15 });
    expect(await attempts(inv.payment_hash)).toBe(1);
  });
});

describe("Lightning address and LNURL", () => {
  it("pays a Lightning address with a comment, after checking the invoice", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip44" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const t = await lab<{ address: string }>("pay_target", {
      name: "alice",
      min_msat: 1000,
      max_msat: 500_000,
      comment: 50,
    });
    const a = await agent();
    const paid = await call<Payment & { recipient: string; success_action: { message?: string } | null }>(
      a,
      "pay_lightning_address",
      { address: t.address, amount_sats: 100, comment: "thanks" },
    );
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 100, recipient: t.address });
    expect(paid.success_action?.message).toBe("Thanks: thanks");
  });

  it("refuses before paying: amount out of range, invoice amount mismatch, description hash mismatch", async () => {
    const a = await agent();
    const range = await lab<{ address: string; node: string }>("pay_target", {
      name: "bob",
      min_msat: 10_000,
      max_msat: 20_000,
    });
    const e1 = await callError(a, "pay_lightning_address", { address: range.address, amount_sats: 50 });
    expect(e1.code).toBe("INVALID_INPUT");
    const liarA = await lab<{ address: string }>("pay_target", { name: "carol", lie: "amount" });
    expect((await callError(a, "pay_lightning_address", { address: liarA.address, amount_sats: 10 })).code).toBe(
      "AMOUNT_MISMATCH",
    );
    const liarH = await lab<{ address: string }>("pay_target", { name: "dave", lie: "hash" });
    expect((await callError(a, "pay_lightning_address", { address: liarH.address, amount_sats: 10 })).code).toBe(
      "INVALID_INVOICE",
    );
    const comment = await lab<{ address: string }>("pay_target", { name: "erin", comment: 0 });
    expect(
      (await callError(a, "pay_lightning_address", { address: comment.address, amount_sats: 10, comment: "hi" })).code,
    ).toBe("INVALID_INPUT");
    expect(
      await call<{ reserved_sats: number; spent: { lifetime_sats: number } }>(a, "get_budget_status"),
    ).toMatchObject({
      reserved_sats: 0,
      spent: { lifetime_sats: 0 },
    });
  });

  it("claims an LNURL-withdraw into the agent's balance", async () => {
    const w = await lab<{ uri: string }>("nwc_wallet", { kind: "nip44" });
    await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
    const link = await lab<{ url: string }>("withdraw_link", { min_msat: 1000, max_msat: 40_000 });
    const a = await agent(0);
    const r = await call<{ paid: boolean; amount_sats: number }>(a, "claim_lnurl_withdraw", { lnurl: link.url });
    expect(r).toMatchObject({ paid: true, amount_sats: 40 });
    expect(await call<{ balance_sats: number }>(a, "check_balance")).toMatchObject({ balance_sats: 40 });
    expect((await callError(a, "claim_lnurl_withdraw", { lnurl: link.url, amount_sats: 10 })).code).toBe(
      "PAYMENT_FAILED",
    );
  });

  it("logs in with LNURL-auth: one key per agent and domain, k1 used once, malformed k1 refused", async () => {
    const a = await agent(0);
    const c1 = await lab<{ url: string; k1: string }>("auth_challenge");
    const r1 = await call<{ status: string; linking_key: string }>(a, "lnurl_auth", { lnurl: c1.url });
    expect(r1.status).toBe("OK");
    expect((await lab<{ keys: string[] }>("auth_keys", { k1: c1.k1 })).keys).toEqual([r1.linking_key]);
    const c2 = await lab<{ url: string }>("auth_challenge");
    expect((await call<{ linking_key: string }>(a, "lnurl_auth", { lnurl: c2.url })).linking_key).toBe(r1.linking_key);
    const other = await agent(0);
    const c3 = await lab<{ url: string }>("auth_challenge");
    expect((await call<{ linking_key: string }>(other, "lnurl_auth", { lnurl: c3.url })).linking_key).not.toBe(
      r1.linking_key,
    );
    expect((await callError(a, "lnurl_auth", { lnurl: c1.url })).code).toBe("FORBIDDEN");
    expect((await callError(a, "lnurl_auth", { lnurl: `${LAB}/lnurl/auth?tag=login&k1=abcd` })).code).toBe(
      "INVALID_INPUT",
    );
  });
});
