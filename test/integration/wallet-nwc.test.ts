// NWC payments whose answer is lost, in the Workers runtime against the wallet lab on loopback (a
// Nostr relay and @getalby/sdk's NWCWalletService): the relay dropping the connection mid-payment,
// and wallets that never answer. Each time the agent hears PAYMENT_PENDING, the sats stay held and
// the wallet got exactly one payment request; then the ledger's alarm reconciles with lookup_invoice
// over the operator's OperatorDesk (which reconnects by itself) — settled when the wallet paid,
// released when it says failed or never saw it — and nothing is ever paid twice.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal";
import { ledgerStub } from "../../src/ledger/client";
import { decodeInvoice } from "../../src/lightning/bolt11";
import { paymentHashOf } from "../../src/lightning/preimage";
import { deskStub } from "../../src/wallet/factory";
import { codeOf, journal, newAgent, newOperator, ok, snapshot, tool } from "./helpers";
import { lab, type WalletMode } from "./scenarios/backends";

interface LabWallet {
  id: string;
  uri: string;
}

/** An operator whose wallet is a fresh lab NWC wallet (kind / dropAfterPay as the test needs), and one agent. */
async function setup(spec: Record<string, unknown>, agentSats = 1000) {
  const { principal: op } = await newOperator();
  const w = await lab<LabWallet>("nwc_wallet", { kind: "nip44", startSats: 100_000, ...spec });
  ok(await tool(op, "connect_wallet", { type: "nwc", uri: w.uri }));
  const agent = await newAgent(op, { initial_balance_sats: agentSats });
  return { op, w, agent, ledger: ledgerStub(env, agent.agentId) };
}

const requests = async (w: LabWallet) =>
  (await lab<{ requests: Record<string, number> }>("nwc_requests", { id: w.id })).requests;
const attempts = async (hash: string) => (await lab<{ attempts: number }>("attempts", { payment_hash: hash })).attempts;
const balance = async (w: LabWallet) => (await lab<{ balance_msat: number }>("node", { node: w.id })).balance_msat;
const setMode = (w: LabWallet, mode: WalletMode | "pending") => lab("mode", { node: w.id, mode });
const merchantInvoice = async (sats: number) =>
  (await lab<{ invoice: string; payment_hash: string }>("invoice", { amount_sats: sats })).invoice;

describe("NWC: the relay drops the connection mid-payment", () => {
  it("the wallet paid: PAYMENT_PENDING, held, one request; the alarm reconnects, looks it up and settles it once", async () => {
    const { op, w, agent, ledger } = await setup({ dropAfterPay: true });
    const invoice = await merchantInvoice(250);
    const hash = decodeInvoice(invoice).paymentHash;
    const before = await balance(w);

    // The wallet pays, then the relay drops our socket before the answer goes out: the answer is lost.
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "drop-1" }))).toBe(
      "PAYMENT_PENDING",
    );
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "drop-1" }))).toBe(
      "PAYMENT_PENDING",
    );
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(250_000);
    expect((await requests(w)).pay_invoice).toBe(1);
    expect(await attempts(hash)).toBe(1);
    expect(await lab("invoice_status", { payment_hash: hash })).toMatchObject({ status: "paid" });

    // The alarm: the session opens a new socket and asks the wallet with lookup_invoice.
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 250_000]);
    expect((await requests(w)).lookup_invoice).toBeGreaterThanOrEqual(1);
    const [tx] = ok<{ transactions: { status: string; payment_hash: string }[] }>(
      await tool(agent.principal, "get_transactions", { direction: "out" }),
    ).transactions;
    expect(tx).toMatchObject({ status: "succeeded", payment_hash: hash });
    expect(await deskStub(env, op.operatorId).stats()).toMatchObject({ connects: 2, connected: true });

    // Never paid twice: the retry with the key reads the settled payment (with its verified proof),
    // without the key ALREADY_PAID.
    const replay = ok<{ replayed: boolean; status: string; preimage: string }>(
      await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "drop-1" }),
    );
    expect(replay).toMatchObject({ replayed: true, status: "succeeded" });
    expect(paymentHashOf(replay.preimage)).toBe(hash);
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("ALREADY_PAID");
    expect((await requests(w)).pay_invoice).toBe(1);
    expect(before - (await balance(w))).toBe(250_000);
  });

  it("the wallet's payment failed: the alarm releases the reservation, nothing is spent", async () => {
    const { w, agent, ledger } = await setup({ dropAfterPay: true });
    const invoice = await merchantInvoice(120);
    const before = await balance(w);
    await setMode(w, "fail");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(120_000);
    await runDurableObjectAlarm(ledger);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat, s.availableMsat]).toEqual([0, 0, 1_000_000]);
    expect(await balance(w)).toBe(before);
    expect((await requests(w)).pay_invoice).toBe(1);
  });

  it("keysend: pending on the drop, settled by lookup of Satchel's own payment hash", async () => {
    const { w, agent, ledger } = await setup({ dropAfterPay: true });
    const dest = await lab<{ pubkey: string; balance_msat: number }>("node", { node: `ks-${w.id}` });
    expect(
      codeOf(await tool(agent.principal, "keysend", { destination: dest.pubkey, amount_sats: 21, message: "hi" })),
    ).toBe("PAYMENT_PENDING");
    await runDurableObjectAlarm(ledger);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 21_000]);
    expect((await lab<{ balance_msat: number }>("node", { node: `ks-${w.id}` })).balance_msat).toBe(
      dest.balance_msat + 21_000,
    );
    expect((await requests(w)).pay_keysend).toBe(1);
  });
});

describe("NWC: a wallet that never answers", () => {
  it("holds the payment in flight: pending after the reply timeout; released when it fails; a retry pays once", async () => {
    const { w, agent, ledger } = await setup({});
    const invoice = await merchantInvoice(300);
    const hash = decodeInvoice(invoice).paymentHash;
    const before = await balance(w);
    await setMode(w, "pending");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(300_000);
    expect((await requests(w)).pay_invoice).toBe(1);

    // Still in flight at the wallet: the alarm keeps the reservation.
    await runDurableObjectAlarm(ledger);
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(300_000);

    await lab("resolve", { node: w.id, payment_hash: hash, result: "failed" });
    await runDurableObjectAlarm(ledger);
    let s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 0]);
    expect(await balance(w)).toBe(before);

    // Released means the invoice may be paid again, and it is paid exactly once.
    await setMode(w, "normal");
    ok(await tool(agent.principal, "pay_invoice", { invoice }));
    s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 300_000]);
    expect(before - (await balance(w))).toBe(300_000);
    expect((await requests(w)).pay_invoice).toBe(2);
  });

  it("never acts on it at all: pending, held until the invoice can no longer be paid, then released", async () => {
    const { w, agent, ledger } = await setup({ kind: "silent" });
    const invoice = await merchantInvoice(40);
    const hash = decodeInvoice(invoice).paymentHash;
    const before = await balance(w);
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    expect((await requests(w)).pay_invoice).toBe(1);
    expect(await attempts(hash)).toBe(0);

    // The wallet does not know the payment (NOT_FOUND), but the invoice is still payable: keep holding.
    await runDurableObjectAlarm(ledger);
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(40_000);
    // Once the invoice has expired (plus a grace period) it can never be paid: released.
    await ledger.skewClock(3600_000 + 601_000);
    await runDurableObjectAlarm(ledger);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 0]);
    expect(await balance(w)).toBe(before);
    expect((await requests(w)).pay_invoice).toBe(1);
  });
});

describe("NWC: reconciling when the wallet connection changed", () => {
  it("only the wallet that sent it settles it: held while another wallet is connected, settled when it is back", async () => {
    const { op, w, agent, ledger } = await setup({});
    const invoice = await merchantInvoice(300);
    const hash = decodeInvoice(invoice).paymentHash;
    const before = await balance(w);
    await setMode(w, "pending");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    await ledger.flushJournal();

    // Another wallet replaces it; connect_wallet says what stays pending on the first one.
    const other = await lab<LabWallet>("nwc_wallet", { kind: "nip44", startSats: 100_000 });
    const switched = ok<{ warnings: string[] }>(await tool(op, "connect_wallet", { type: "nwc", uri: other.uri }));
    expect(switched.warnings.join(" ")).toContain("1 payment sent through another wallet connection is still pending");

    // The first wallet completes the payment. The new wallet has never heard of it: it is not asked,
    // and its "not found" never releases the sats, not even once the invoice has long expired.
    await lab("resolve", { node: w.id, payment_hash: hash, result: "succeeded" });
    expect(before - (await balance(w))).toBe(300_000);
    await runDurableObjectAlarm(ledger);
    await ledger.skewClock(3600_000 + 601_000);
    await runDurableObjectAlarm(ledger);
    let s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([300_000, 0]);
    expect((await requests(other)).lookup_invoice ?? 0).toBe(0);

    // The first wallet connected again (the same connection): no warning, and the next look settles it.
    const back = ok<{ warnings: string[] }>(await tool(op, "connect_wallet", { type: "nwc", uri: w.uri }));
    expect(back.warnings.join(" ")).not.toContain("still pending");
    await runDurableObjectAlarm(ledger);
    s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 300_000]);
    expect((await requests(w)).pay_invoice).toBe(1);
  });

  it("a payment held by a wallet that is gone for good is the operator's to resolve, within the rules", async () => {
    const { op, w, agent, ledger } = await setup({});
    await setMode(w, "pending");
    const [lost, paid] = [await merchantInvoice(70), await merchantInvoice(30)];
    for (const invoice of [lost, paid]) {
      expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    }
    const other = await lab<LabWallet>("nwc_wallet", { kind: "nip44", startSats: 100_000 });
    ok(await tool(op, "connect_wallet", { type: "nwc", uri: other.uri }));
    // The old wallet pays one of them and is then gone: nothing will ever settle either by itself.
    const paidHash = decodeInvoice(paid).paymentHash;
    await lab("resolve", { node: w.id, payment_hash: paidHash, result: "succeeded" });
    const ids = async () => {
      const txs = ok<{ transactions: { id: string; payment_hash: string; status: string }[] }>(
        await tool(agent.principal, "get_transactions", { direction: "out" }),
      ).transactions;
      return (hash: string) => txs.find((t) => t.payment_hash === hash)!;
    };
    const byHash = await ids();
    const resolve = (invoice: string, args: Record<string, unknown>) =>
      tool(op, "resolve_payment", {
        agent_id: agent.agentId,
        payment_id: byHash(decodeInvoice(invoice).paymentHash).id,
        ...args,
      });
    const held = async () => {
      const s = await snapshot(agent.agentId);
      return [s.reservedMsat, s.spentMsat];
    };
    expect(await held()).toEqual([100_000, 0]);

    // Failed only once the invoice can no longer be paid: until then it could still go through.
    expect(codeOf(await resolve(lost, { outcome: "failed" }))).toBe("INVALID_INPUT");
    // Succeeded with a preimage that is not the payment's: refused.
    expect(codeOf(await resolve(paid, { outcome: "succeeded", preimage: "00".repeat(32) }))).toBe("PREIMAGE_MISMATCH");
    expect(await held()).toEqual([100_000, 0]);

    // Succeeded with the preimage the old wallet shows: spent, with its proof.
    const { preimage } = await lab<{ preimage: string }>("invoice_status", { payment_hash: paidHash });
    const spent = ok<{ transaction: { status: string }; balance_sats: number }>(
      await resolve(paid, { outcome: "succeeded", preimage }),
    );
    expect(spent.transaction).toMatchObject({ status: "succeeded" });
    expect(await held()).toEqual([70_000, 30_000]);

    // Past the invoice's expiry and the grace: released.
    await ledger.skewClock(3600_000 + 601_000);
    const released = ok<{ transaction: { status: string; error_code: string }; balance_sats: number }>(
      await resolve(lost, { outcome: "failed" }),
    );
    expect(released.transaction).toMatchObject({ status: "failed", error_code: "PAYMENT_FAILED" });
    expect(released.balance_sats).toBe(970);
    expect(await held()).toEqual([0, 30_000]);
    // Final: neither can be resolved again, and the journal agrees.
    expect(codeOf(await resolve(lost, { outcome: "succeeded" }))).toBe("INVALID_INPUT");
    expect(codeOf(await resolve(paid, { outcome: "failed" }))).toBe("INVALID_INPUT");
    const rows = await journal(agent.agentId);
    expect(
      rows
        .filter((r) => r.direction === "out")
        .map((r) => r.status)
        .sort(),
    ).toEqual(["failed", "succeeded"]);
    // Another agent's payment id, or none: not found.
    const stranger = await newAgent(op, { initial_balance_sats: 10 });
    expect(
      codeOf(
        await tool(op, "resolve_payment", {
          agent_id: stranger.agentId,
          payment_id: byHash(paidHash).id,
          outcome: "failed",
        }),
      ),
    ).toBe("NOT_FOUND");
  });

  it("a connection that cannot be opened is not asked, and that is no answer: the payment stays held", async () => {
    const { op, w, agent, ledger } = await setup({});
    const invoice = await merchantInvoice(70);
    await setMode(w, "pending");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");
    // The stored secret no longer opens (say WALLET_SECRET_KEY was rotated without re-sealing it).
    await env.DB.prepare("UPDATE operators SET wallet_secret_enc = 'v1:AAAA:AAAA' WHERE id = ?")
      .bind(op.operatorId)
      .run();
    await ledger.skewClock(3600_000 + 601_000);
    await runDurableObjectAlarm(ledger);
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(70_000);
  });

  it("an invoice issued through the previous wallet stays open, even past its expiry, until that wallet tells", async () => {
    const { op, w, agent, ledger } = await setup({});
    const made = ok<{ invoice: string; payment_hash: string }>(
      await tool(agent.principal, "create_invoice", { amount_sats: 50, expiry_seconds: 600 }),
    );
    await ledger.flushJournal();
    const other = await lab<LabWallet>("nwc_wallet", { kind: "nip44", startSats: 100_000 });
    const switched = ok<{ warnings: string[] }>(await tool(op, "connect_wallet", { type: "nwc", uri: other.uri }));
    expect(switched.warnings.join(" ")).toContain("1 invoice issued through another wallet connection is still open");
    // Paid to the first wallet after the switch; then the invoice's expiry passes.
    await lab("node", { node: `payer-${made.payment_hash.slice(0, 8)}`, start_msat: 1_000_000 });
    await lab("pay", { node: `payer-${made.payment_hash.slice(0, 8)}`, invoice: made.invoice });
    await ledger.skewClock(3600_000);
    const status = async () =>
      ok<{ status: string; paid: boolean }>(
        await tool(agent.principal, "get_invoice_status", { payment_hash: made.payment_hash }),
      );
    // The wallet now connected has never heard of it: "expired" would be a guess, and a wrong one.
    expect(await status()).toMatchObject({ status: "open", paid: false });
    expect((await requests(other)).lookup_invoice ?? 0).toBe(0);

    const before = (await snapshot(agent.agentId)).availableMsat;
    ok(await tool(op, "connect_wallet", { type: "nwc", uri: w.uri }));
    expect(await status()).toMatchObject({ status: "succeeded", paid: true });
    expect((await snapshot(agent.agentId)).availableMsat - before).toBe(50_000);
  });
});

describe("NWC: the warm path (reserve, then one desk call that claims the invoice and sends it)", () => {
  const served = async (operatorId: string) => (await deskStub(env, operatorId).stats()).served;
  const outgoing = async (agent: { principal: Principal }, hash: string) =>
    ok<{ transactions: { payment_hash: string; status: string; error_code: string | null }[] }>(
      await tool(agent.principal, "get_transactions", { direction: "out" }),
    ).transactions.filter((t) => t.payment_hash === hash);

  it("pays in one desk call once warm; another agent's warm attempt at the same invoice is refused unsent", async () => {
    const { op, w, agent } = await setup({});
    const other = await newAgent(op, { initial_balance_sats: 1000 });
    // Cold: the desk claims, then the desk sends.
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(10) }));
    expect(await served(op.operatorId)).toEqual({ claim: 1, payCall: 1, claimAndCall: 0 });
    // Warm: one call.
    const shared = await merchantInvoice(20);
    const hash = decodeInvoice(shared).paymentHash;
    expect(ok(await tool(agent.principal, "pay_invoice", { invoice: shared }))).toMatchObject({ status: "succeeded" });
    expect(await served(op.operatorId)).toEqual({ claim: 1, payCall: 1, claimAndCall: 1 });

    // The other agent pays once (cold), then tries the invoice the first agent paid: warm, so its
    // reservation comes first; the desk finds the claim taken and sends nothing.
    ok(await tool(other.principal, "pay_invoice", { invoice: await merchantInvoice(5) }));
    const refused = await tool(other.principal, "pay_invoice", { invoice: shared, idempotency_key: "k1" });
    expect(codeOf(refused)).toBe("ALREADY_PAID");
    expect(await served(op.operatorId)).toEqual({ claim: 2, payCall: 2, claimAndCall: 2 });
    expect(await attempts(hash)).toBe(1);
    expect((await requests(w)).pay_invoice).toBe(3);
    let s = await snapshot(other.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 5_000]);
    // The reservation was undone without a trace, its key with it: a retry with the key is decided afresh.
    expect(await outgoing(other, hash)).toEqual([]);
    expect(codeOf(await tool(other.principal, "pay_invoice", { invoice: shared, idempotency_key: "k1" }))).toBe(
      "ALREADY_PAID",
    );
    s = await snapshot(other.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 5_000]);
    expect(await attempts(hash)).toBe(1);
  });

  it("a refused reservation the journal may already hold stays on record as failed, and the journal agrees", async () => {
    const { agent } = await setup({});
    const ledger = ledgerStub(env, agent.agentId);
    type Internals = {
      reserve(p: object): { id: string };
      entry(id: string): object;
      cancelUnsent(e: object, code: string, reason: string): void;
    };
    const reserveAndCancel = async (sats: number, journalFirst: boolean) => {
      const invoice = await merchantInvoice(sats);
      const { paymentHash, expiresAt } = decodeInvoice(invoice);
      const id = await runInDurableObject(
        ledger,
        (i) =>
          (i as unknown as Internals).reserve({
            req: { idempotencyKey: `cancel-${sats}` },
            paymentHash,
            invoice,
            description: null,
            expiresAt,
            amountMsat: sats * 1000,
            feeLimitMsat: 0,
            payee: null,
            walletRef: null,
          }).id,
      );
      if (journalFirst) {
        expect((await journal(agent.agentId)).find((r) => r.payment_hash === paymentHash)?.status).toBe("reserved");
      }
      await runInDurableObject(ledger, (i) => {
        const l = i as unknown as Internals;
        l.cancelUnsent(l.entry(id), "ALREADY_PAID", "test");
      });
      return paymentHash;
    };
    // Journaled before the refusal: failed on record, in the ledger and in D1, its key free again.
    const kept = await reserveAndCancel(15, true);
    expect((await journal(agent.agentId)).find((r) => r.payment_hash === kept)?.status).toBe("failed");
    expect(await outgoing(agent, kept)).toMatchObject([{ status: "failed", error_code: "ALREADY_PAID" }]);
    // Never journaled: gone from both.
    const gone = await reserveAndCancel(16, false);
    expect((await journal(agent.agentId)).find((r) => r.payment_hash === gone)).toBeUndefined();
    expect(await outgoing(agent, gone)).toEqual([]);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat, s.availableMsat]).toEqual([0, 0, 1_000_000]);
  });

  it("an invoice of another agent of the operator is paid inside Satchel on the warm reservation", async () => {
    const { op, w, agent } = await setup({});
    const payee = await newAgent(op, { initial_balance_sats: 0 });
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(10) }));
    const inv = ok<{ invoice: string; payment_hash: string }>(
      await tool(payee.principal, "create_invoice", { amount_sats: 30, description: "inside" }),
    );
    const paid = ok<{ status: string; fee_sats: number; internal: boolean }>(
      await tool(agent.principal, "pay_invoice", { invoice: inv.invoice }),
    );
    expect(paid).toMatchObject({ status: "succeeded", fee_sats: 0, internal: true });
    expect(await served(op.operatorId)).toMatchObject({ claim: 1, claimAndCall: 1 });
    expect((await requests(w)).pay_invoice).toBe(1);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 40_000]);
    expect((await snapshot(payee.agentId)).availableMsat).toBe(30_000);
    expect(await outgoing(agent, inv.payment_hash)).toMatchObject([{ status: "succeeded" }]);
  });

  it("an agent's own invoice is refused before anything is reserved or claimed", async () => {
    const { op, agent } = await setup({});
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(10) }));
    const inv = ok<{ invoice: string; payment_hash: string }>(
      await tool(agent.principal, "create_invoice", { amount_sats: 30, description: "mine" }),
    );
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice: inv.invoice }))).toBe("INVALID_INPUT");
    expect(await served(op.operatorId)).toEqual({ claim: 1, payCall: 1, claimAndCall: 0 });
    expect(await outgoing(agent, inv.payment_hash)).toEqual([]);
    expect((await snapshot(agent.agentId)).reservedMsat).toBe(0);
  });

  it("after a wallet switch nothing goes out over the old connection: the payment is made through the new one", async () => {
    const { op, w, agent } = await setup({});
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(10) }));
    const next = await lab<LabWallet>("nwc_wallet", { kind: "nip44", startSats: 100_000 });
    ok(await tool(op, "connect_wallet", { type: "nwc", uri: next.uri }));

    const invoice = await merchantInvoice(40);
    const hash = decodeInvoice(invoice).paymentHash;
    expect(ok(await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "after-switch" }))).toMatchObject({
      status: "succeeded",
      replayed: false,
    });
    expect((await requests(w)).pay_invoice).toBe(1);
    expect((await requests(next)).pay_invoice).toBe(1);
    expect(await attempts(hash)).toBe(1);
    const s = await snapshot(agent.agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 50_000]);
    // The refused reservation was undone; the key belongs to the payment that was made.
    expect(await outgoing(agent, hash)).toMatchObject([{ status: "succeeded" }]);
    expect(ok(await tool(agent.principal, "pay_invoice", { invoice, idempotency_key: "after-switch" }))).toMatchObject({
      status: "succeeded",
      replayed: true,
    });
    // The next payment is warm on the new connection.
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(5) }));
    expect((await requests(next)).pay_invoice).toBe(2);
    expect((await served(op.operatorId)).claimAndCall).toBe(2);
  });
});
