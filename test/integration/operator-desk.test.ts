// The operator's desk (src/wallet/operator-desk.ts) keeps the wallet connection it read from D1, so a
// payment reaches the wallet without a D1 round trip. A wallet change must still reach the very next
// payment: connect_wallet (and the dashboard, through the same connectWallet) tells the desk at once.
// Its register and claims stay bounded: rows of invoices that expired over a day ago are dropped.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deskStub } from "../../src/wallet/factory";
import type { OperatorDesk } from "../../src/wallet/operator-desk";
import { merchantInvoice, newAgent, newOperator, ok, tool, walletBalanceMsat } from "./helpers";
import { lab } from "./scenarios/backends";

const labBalance = async (id: string) => (await lab<{ balance_msat: number }>("node", { node: id })).balance_msat;
const labInvoice = async (sats: number) => (await lab<{ invoice: string }>("invoice", { amount_sats: sats })).invoice;

describe("operator desk", () => {
  it("the payment right after a wallet change goes to the new wallet, both ways", async () => {
    const { principal: op } = await newOperator();
    const agent = await newAgent(op, { initial_balance_sats: 1000 });
    // The first payment makes the desk read (and keep) the built-in fake wallet.
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(10) }));
    const fakeBefore = await walletBalanceMsat(op.operatorId);

    const w = await lab<{ id: string; uri: string }>("nwc_wallet", { kind: "nip44", startSats: 100_000 });
    ok(await tool(op, "connect_wallet", { type: "nwc", uri: w.uri }));
    const nwcBefore = await labBalance(w.id);
    ok(await tool(agent.principal, "pay_invoice", { invoice: await labInvoice(20) }));
    expect(nwcBefore - (await labBalance(w.id))).toBe(20_000);
    expect(await walletBalanceMsat(op.operatorId)).toBe(fakeBefore);

    ok(await tool(op, "connect_wallet", { type: "fake" }));
    ok(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(5) }));
    expect(fakeBefore - (await walletBalanceMsat(op.operatorId))).toBe(5_000);
    expect(nwcBefore - (await labBalance(w.id))).toBe(20_000);
  });

  it("drops the invoices and claims of invoices that expired over a day ago, and nothing else", async () => {
    const { principal: op } = await newOperator();
    const desk = deskStub(env, op.operatorId);
    const nowS = Math.floor(Date.now() / 1000);
    const hash = (c: string) => c.repeat(64);
    const claim = (paymentHash: string, agentId: string, expiresAt: number) =>
      desk.claim({ operatorId: op.operatorId, paymentHash, agentId, at: Date.now(), expiresAt });
    const issue = (paymentHash: string, expiresAt: number) =>
      desk.recordInvoice({ paymentHash, agentId: "agt_issuer", amountMsat: 1000, createdAt: Date.now(), expiresAt });
    await issue(hash("1"), nowS - 25 * 3600);
    await issue(hash("2"), nowS - 23 * 3600);
    expect((await claim(hash("3"), "agt_a", nowS - 25 * 3600)).claimant).toBe("agt_a");
    expect((await claim(hash("4"), "agt_a", nowS + 3600)).claimant).toBe("agt_a");
    // That first claim of the running desk pruned before it wrote: only the invoice past the day went.
    expect(await desk.invoiceOwner(hash("1"))).toBeNull();
    expect(await desk.invoiceOwner(hash("2"))).toBe("agt_issuer");

    // An hour later (the desk prunes at most hourly), the next claim drops the expired claim only.
    await runInDurableObject(desk, (instance: OperatorDesk) => {
      (instance as unknown as { prunedAt: number }).prunedAt = 0;
    });
    expect((await claim(hash("5"), "agt_b", nowS + 3600)).claimant).toBe("agt_b");
    expect((await claim(hash("3"), "agt_b", nowS - 25 * 3600)).claimant).toBe("agt_b");
    expect((await claim(hash("4"), "agt_b", nowS + 3600)).claimant).toBe("agt_a");
  });
});
