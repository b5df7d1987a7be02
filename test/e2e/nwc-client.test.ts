// The NIP-47 client (src/wallet/nwc-client.ts) against the lab's relay and NWCWalletService, in Node:
// encryption negotiation, signatures and authors, timeouts, refusals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NwcClient, NwcTimeoutError, NwcWalletError, parseNwcUri } from "../../src/wallet/nwc-client";
import { startLab, type Lab } from "../support/nwc/lab";

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(async () => {
  await lab?.stop();
});

describe("NwcClient", () => {
  it("negotiates NIP-44 with a current wallet and NIP-04 with an older one, over one reused socket", async () => {
    for (const kind of ["nip44", "nip04"] as const) {
      const w = await lab.createNwcWallet({ kind, startSats: 5000 });
      const c = new NwcClient(parseNwcUri(w.uri));
      try {
        const info = await c.serviceInfo();
        expect(c.encryption).toBe(kind === "nip44" ? "nip44_v2" : "nip04");
        expect(info.methods).toContain("pay_invoice");
        const b1 = await c.request<{ balance: number }>("get_balance", {}, 5000);
        const b2 = await c.request<{ balance: number }>("get_balance", {}, 5000);
        expect([b1.balance, b2.balance]).toEqual([5_000_000, 5_000_000]);
        expect(c.connects).toBe(1);
      } finally {
        c.close();
      }
    }
  });

  it("pays an invoice, maps wallet errors, and times out on a silent wallet", async () => {
    const w = await lab.createNwcWallet({});
    const c = new NwcClient(parseNwcUri(w.uri));
    const inv = lab.network.makeInvoice("merchant", { amountMsat: 21_000, description: "x" });
    const paid = await c.request<{ preimage: string }>("pay_invoice", { invoice: inv.invoice }, 5000);
    expect(paid.preimage).toBe(inv.preimage);
    await expect(c.request("lookup_invoice", { payment_hash: "00".repeat(32) }, 5000)).rejects.toBeInstanceOf(
      NwcWalletError,
    );
    c.close();
    const silent = await lab.createNwcWallet({ kind: "silent" });
    const s = new NwcClient(parseNwcUri(silent.uri));
    await expect(s.request("pay_invoice", { invoice: inv.invoice }, 300)).rejects.toBeInstanceOf(NwcTimeoutError);
    s.close();
  });
});
