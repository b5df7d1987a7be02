import { bytesToHex, concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import * as macaroonPkg from "macaroon";
import { describe, expect, it } from "vitest";
import {
  bytesToBase64,
  caveatStrings,
  chainSignature,
  decodeIdentifier,
  decodeMacaroon,
  encodeIdentifier,
  macaroonToBase64,
  mintMacaroon,
  signatureValid,
} from "./macaroon";

const rootKey = utf8ToBytes("a root key of thirty-two bytes!!");
const hash = "ab".repeat(32);
const tokenId = "cd".repeat(32);

describe("macaroons interoperate with the `macaroon` package (libmacaroons / go-macaroon format)", () => {
  it("Satchel mints; the package imports the binary V2 and verifies the signature chain", () => {
    const mine = mintMacaroon({
      rootKey,
      identifier: encodeIdentifier(hash, tokenId),
      location: "satchel",
      caveats: ["services=satchel:0", "resource=/x", "valid_until=2000000000"],
    });
    const theirs = macaroonPkg.importMacaroon(macaroonToBase64(mine));
    expect(theirs.location).toBe("satchel");
    expect(bytesToHex(theirs.identifier)).toBe(`0000${hash}${tokenId}`);
    const seen: string[] = [];
    theirs.verify(rootKey, (c) => (seen.push(c), null));
    expect(seen).toEqual(["services=satchel:0", "resource=/x", "valid_until=2000000000"]);
    expect(() => theirs.verify(utf8ToBytes("another key"), () => null)).toThrow();
  });

  it("the package mints; Satchel decodes it and checks the signature", () => {
    const m = macaroonPkg.newMacaroon({ identifier: encodeIdentifier(hash, tokenId), rootKey, version: 2 });
    m.addFirstPartyCaveat("services=fortune:0");
    const decoded = decodeMacaroon(macaroonPkg.bytesToBase64(m.exportBinary()));
    expect(decodeIdentifier(decoded.identifier)).toEqual({ version: 0, paymentHash: hash, tokenId });
    expect(caveatStrings(decoded)).toEqual(["services=fortune:0"]);
    expect(signatureValid(decoded, rootKey)).toBe(true);
    expect(signatureValid(decoded, utf8ToBytes("x"))).toBe(false);
  });

  it("reads version 1 binary macaroons too (packets), from URL-safe unpadded base64", () => {
    const id = utf8ToBytes("plain-id");
    const sig = chainSignature(rootKey, id, [utf8ToBytes("a=b")]);
    const packet = (key: string, value: Uint8Array) => {
      const body = concatBytes(utf8ToBytes(`${key} `), value, utf8ToBytes("\n"));
      return concatBytes(utf8ToBytes((body.length + 4).toString(16).padStart(4, "0")), body);
    };
    const raw = concatBytes(
      packet("location", utf8ToBytes("loc")),
      packet("identifier", id),
      packet("cid", utf8ToBytes("a=b")),
      packet("signature", sig),
    );
    const b64 = bytesToBase64(raw).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const d = decodeMacaroon(b64);
    expect(d.location).toBe("loc");
    expect(new TextDecoder().decode(d.identifier)).toBe("plain-id");
    expect(caveatStrings(d)).toEqual(["a=b"]);
    expect(signatureValid(d, rootKey)).toBe(true);
  });

  it("refuses garbage, truncation and trailing bytes", () => {
    const good = macaroonToBase64(mintMacaroon({ rootKey, identifier: encodeIdentifier(hash, tokenId) }));
    for (const bad of ["", "!!!", btoa("\u0002\u0002"), good.slice(0, 20), btoa(atob(good) + "x")]) {
      expect(() => decodeMacaroon(bad)).toThrow();
    }
    expect(decodeIdentifier(new Uint8Array(10))).toBeNull();
  });
});
