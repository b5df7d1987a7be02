// The operator's desk (src/wallet/operator-desk.ts) keeps the wallet connection it read from D1, so a
// payment reaches the wallet without a D1 round trip. A wallet change must still reach the very next
// payment: connect_wallet (and the dashboard, through the same connectWallet) tells the desk at once.
import { describe, expect, it } from "vitest";
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
});
