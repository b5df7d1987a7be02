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

  it("a dropped relay fails the request in flight at once (outcome unknown), and the next request reconnects", async () => {
    const silent = await lab.createNwcWallet({ kind: "silent" });
    const parts = parseNwcUri(silent.uri);
    const c = new NwcClient(parts);
    const drop = () =>
      fetch(`${lab.url}/control`, {
        method: "POST",
        body: JSON.stringify({ op: "drop", wallet_pubkey: parts.walletPubkey }),
      }).then((r) => r.json() as Promise<{ dropped: number }>);
    try {
      await c.serviceInfo();
      const inv = lab.network.makeInvoice("merchant", { amountMsat: 5_000, description: "x" });
      // A reply timeout far beyond the test's own: only the drop can end this request in time.
      const inFlight = c.request("pay_invoice", { invoice: inv.invoice }, 120_000);
      const settled = inFlight.catch((e: unknown) => e);
      await c.request("get_balance", {}, 5000); // the pay request is out: the wallet answered the next one
      expect(await drop()).toEqual({ dropped: 1 });
      const e = await settled;
      expect(e).toBeInstanceOf(NwcTimeoutError);
      expect((e as NwcTimeoutError).sent).toBe(true);
      expect(c.connected).toBe(false);
      // The next request opens a new socket (with its subscription) instead of failing for good.
      expect(await c.request<{ balance: number }>("get_balance", {}, 5000)).toMatchObject({ balance: 1_000_000_000 });
      expect(c.connects).toBe(2);
    } finally {
      c.close();
    }
  }, 30_000);

  it("settles a request only with the wallet's own signed reply: another key, a borrowed name or an altered reply are ignored", async () => {
    const silent = await lab.createNwcWallet({ kind: "silent" });
    const c = new NwcClient(parseNwcUri(silent.uri));
    try {
      const inv = lab.network.makeInvoice("merchant", { amountMsat: 5_000, description: "x" });
      const inFlight = c.request<{ preimage: string }>("pay_invoice", { invoice: inv.invoice }, 120_000);
      await c.request("get_balance", {}, 5000); // the pay request is out: the wallet answered the next one
      const genuine = { preimage: "aa".repeat(32), fees_paid: 0 };
      const forged = { preimage: "ff".repeat(32), fees_paid: 0 };
      // Three forged replies reach the socket first, then the wallet's own: only the last may count.
      const r = await fetch(`${lab.url}/control`, {
        method: "POST",
        body: JSON.stringify({ op: "forge_replies", id: silent.id, forged, genuine }),
      });
      expect(await r.json()).toEqual({ sent: 4 });
      expect(await inFlight).toEqual(genuine);
    } finally {
      c.close();
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
