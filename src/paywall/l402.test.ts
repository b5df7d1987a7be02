import { describe, expect, it } from "vitest";
import {
  l402Authorization,
  parseAuthChallenges,
  parseL402Challenges,
  parseL402Token,
  pickL402Challenge,
  tokenPaymentHash,
} from "./l402";
import { encodeIdentifier, macaroonToBase64, mintMacaroon } from "./macaroon";

const MAC = "AgEEbHNhdAJCAAA=";
const INV = "lnbcrt10n1pjtest";

describe("WWW-Authenticate parsing, as servers really send it", () => {
  it.each([
    ["spec form", `L402 macaroon="${MAC}", invoice="${INV}"`],
    ["token= instead of macaroon=", `L402 token="${MAC}", invoice="${INV}"`],
    ["alby: version without a comma", `L402 version="0" token="${MAC}", invoice="${INV}"`],
    ["unquoted, no commas", `L402 macaroon=${MAC} invoice=${INV}`],
    ["single quotes, odd spacing", `L402   macaroon = '${MAC}' ,invoice='${INV}'`],
    ["lowercase scheme", `l402 macaroon="${MAC}", invoice="${INV}"`],
    ["lightning: prefix, upper case invoice", `L402 macaroon="${MAC}", invoice="lightning:${INV.toUpperCase()}"`],
  ])("%s", (_name, header) => {
    expect(parseL402Challenges(header)).toEqual([
      expect.objectContaining({ scheme: "L402", macaroon: MAC, invoice: INV }),
    ]);
  });

  it("several challenges in one header (joined WWW-Authenticate headers): L402 preferred over LSAT", () => {
    const header = `Bearer realm="api", LSAT macaroon="${MAC}", invoice="${INV}", L402 macaroon="${MAC}", invoice="${INV}"`;
    const all = parseL402Challenges(header);
    expect(all.map((c) => c.scheme)).toEqual(["LSAT", "L402"]);
    expect(pickL402Challenge(all)?.scheme).toBe("L402");
    expect(parseAuthChallenges(header)[0]).toEqual({ scheme: "Bearer", params: { realm: "api" } });
  });

  it("LSAT only: the LSAT challenge is picked", () => {
    expect(pickL402Challenge(parseL402Challenges(`LSAT macaroon="${MAC}", invoice="${INV}"`))?.scheme).toBe("LSAT");
  });

  it("garbage yields no challenge and does not throw", () => {
    for (const h of [
      "",
      "L402",
      "L402 invoice",
      'L402 ==="" ,,',
      "\u0000\u0001",
      "L402 macaroon=",
      `L402 invoice="${INV}"`,
    ]) {
      expect(parseL402Challenges(h)).toEqual([]);
    }
  });

  it("a token68 after a scheme is not a parameter", () => {
    expect(parseAuthChallenges("Bearer abc==, L402 macaroon=x invoice=y")).toEqual([
      { scheme: "Bearer", params: { "": "abc==" } },
      { scheme: "L402", params: { macaroon: "x", invoice: "y" } },
    ]);
  });
});

describe("credentials", () => {
  const pre = "ab".repeat(32);
  it("builds and reads `L402 macaroon:preimage`, LSAT and bare", () => {
    expect(l402Authorization("LSAT", MAC, pre)).toBe(`LSAT ${MAC}:${pre}`);
    expect(parseL402Token(`L402 ${MAC}:${pre}`)).toEqual({ scheme: "L402", macaroon: MAC, preimage: pre });
    expect(parseL402Token(`lsat ${MAC}:${pre.toUpperCase()}`)).toEqual({
      scheme: "LSAT",
      macaroon: MAC,
      preimage: pre,
    });
    expect(parseL402Token(`${MAC}:${pre}`)).toEqual({ scheme: null, macaroon: MAC, preimage: pre });
    expect(parseL402Token(`L402 ${MAC}:nothex`)).toBeNull();
    expect(parseL402Token(`L402 ${MAC}`)).toBeNull();
  });

  it("reads the payment hash of a v0 macaroon and of an alby JSON token; null when the token does not say", () => {
    const hash = "11".repeat(32);
    const mac = macaroonToBase64(
      mintMacaroon({ rootKey: new Uint8Array(32), identifier: encodeIdentifier(hash, "22".repeat(32)) }),
    );
    expect(tokenPaymentHash(mac)).toBe(hash);
    const alby = `${btoa(JSON.stringify({ paymentHash: hash, item: "x" }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_")}.${"ff".repeat(32)}`;
    expect(tokenPaymentHash(alby)).toBe(hash);
    expect(tokenPaymentHash("opaque-token")).toBeNull();
    expect(tokenPaymentHash(btoa("not a macaroon at all"))).toBeNull();
  });
});
