import { describe, expect, it } from "vitest";
import { walletRef } from "./connection";

const WALLET = "b".repeat(64);
const SECRET = "c".repeat(64);
const nwc = (relays: string[], secret = SECRET, wallet = WALLET) =>
  ({
    type: "nwc",
    uri: `nostr+walletconnect://${wallet}?${relays.map((r) => `relay=${encodeURIComponent(r)}`).join("&")}&secret=${secret}`,
  }) as const;
const lnbits = (apiKey: string, url = "https://lnbits.example.com") => ({ type: "lnbits", url, apiKey }) as const;

describe("walletRef: which wallet connection sent a payment", () => {
  it("is the same for the same connection, whatever its relays", () => {
    expect(walletRef(nwc(["wss://a.example"]))).toBe(walletRef(nwc(["wss://b.example", "wss://a.example"])));
    expect(walletRef(nwc(["wss://a.example"], SECRET.toUpperCase()))).toBe(walletRef(nwc(["wss://a.example"])));
    expect(walletRef(lnbits("k".repeat(32)))).toBe(walletRef(lnbits("k".repeat(32))));
    expect(walletRef(null)).toBe("fake");
  });

  it("differs for another wallet, another app connection of one wallet, or another LNbits key or server", () => {
    const refs = [
      walletRef(nwc(["wss://a.example"])),
      walletRef(nwc(["wss://a.example"], "d".repeat(64))),
      walletRef(nwc(["wss://a.example"], SECRET, "e".repeat(64))),
      walletRef(lnbits("k".repeat(32))),
      walletRef(lnbits("j".repeat(32))),
      walletRef(lnbits("k".repeat(32), "https://other.example.com")),
      walletRef(null),
    ];
    expect(new Set(refs).size).toBe(refs.length);
  });

  it("reveals no part of the secret", () => {
    for (const ref of [walletRef(nwc(["wss://a.example"])), walletRef(lnbits("k".repeat(32)))]) {
      expect(ref).toMatch(/^(nwc|lnbits):[0-9a-f]{32}$/);
      expect(ref).not.toContain("cccc");
      expect(ref).not.toContain(WALLET.slice(0, 8));
    }
  });
});
