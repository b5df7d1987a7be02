import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { random32Hex } from "../ids";
import { paymentHashOf } from "../lightning/preimage";
import { createChallenge, verifyCredential, type ChallengeIssuer } from "./challenge";
import { decodeMacaroon, macaroonToBase64, mintMacaroon, encodeIdentifier } from "./macaroon";

/** An issuer whose invoices are just preimages kept in memory. */
function memoryIssuer(id = "test") {
  const preimages = new Map<string, string>();
  const paid = new Set<string>();
  const issuer: ChallengeIssuer = {
    id,
    async makeInvoice(req) {
      const preimage = random32Hex();
      const paymentHash = paymentHashOf(preimage);
      preimages.set(paymentHash, preimage);
      return { invoice: `lnbcrt-fake-${req.amountMsat}`, paymentHash, expiresAt: 2_000_000_000 };
    },
    async isPaid(h) {
      return paid.has(h);
    },
  };
  return { issuer, preimages, paid };
}

describe("L402 challenges", () => {
  it("verifies a paid credential; reports each failure with its reason", async () => {
    const { issuer, preimages, paid } = memoryIssuer();
    const ch = await createChallenge(env, issuer, {
      resource: "/r",
      priceSats: 5,
      description: "d",
      expirySeconds: 60,
    });
    const preimage = preimages.get(ch.paymentHash)!;
    const token = `L402 ${ch.macaroon}:${preimage}`;
    expect((await verifyCredential(env, issuer, token)).reason).toBe("not_paid");
    paid.add(ch.paymentHash);
    expect(await verifyCredential(env, issuer, token, { resource: "/r" })).toMatchObject({
      valid: true,
      resource: "/r",
      expiresAt: 2_000_000_000,
    });
    expect((await verifyCredential(env, issuer, token, { nowSeconds: 2_000_000_001 })).reason).toBe("expired");
    expect((await verifyCredential(env, issuer, token, { resource: "/other" })).reason).toBe("wrong_resource");
    expect((await verifyCredential(env, memoryIssuer("other").issuer, token)).reason).toBe("bad_signature");
    expect((await verifyCredential(env, issuer, `L402 ${ch.macaroon}:${random32Hex()}`)).reason).toBe(
      "preimage_mismatch",
    );
    expect((await verifyCredential(env, issuer, "L402 nonsense")).reason).toBe("malformed");
    expect((await verifyCredential(env, issuer, `L402 ${btoa("xyz")}:${preimage}`)).reason).toBe("not_a_macaroon");
  });

  it("an added caveat Satchel does not know makes the token invalid; a narrowing resource caveat must agree", async () => {
    const { issuer, preimages, paid } = memoryIssuer();
    const ch = await createChallenge(env, issuer, {
      resource: "/r",
      priceSats: 5,
      description: "d",
      expirySeconds: 60,
    });
    paid.add(ch.paymentHash);
    const m = decodeMacaroon(ch.macaroon);
    // A holder may add caveats (HMAC chain), but not remove them.
    const { hmac } = await import("@noble/hashes/hmac.js");
    const { sha256 } = await import("@noble/hashes/sha2.js");
    const add = (c: string) => {
      const cav = new TextEncoder().encode(c);
      return macaroonToBase64({ ...m, caveats: [...m.caveats, cav], signature: hmac(sha256, m.signature, cav) });
    };
    const pre = preimages.get(ch.paymentHash)!;
    expect((await verifyCredential(env, issuer, `${add("ip=1.2.3.4")}:${pre}`)).reason).toBe("unknown_caveat");
    expect((await verifyCredential(env, issuer, `${add("resource=/s")}:${pre}`)).reason).toBe("wrong_resource");
    expect((await verifyCredential(env, issuer, `${add("valid_until=1")}:${pre}`)).reason).toBe("expired");
    const dropped = macaroonToBase64({ ...m, caveats: m.caveats.slice(0, 1) });
    expect((await verifyCredential(env, issuer, `${dropped}:${pre}`)).reason).toBe("bad_signature");
  });

  it("an identifier that is not v0 is refused", async () => {
    const { issuer } = memoryIssuer();
    const m = mintMacaroon({ rootKey: new Uint8Array(32), identifier: new TextEncoder().encode("x") });
    expect((await verifyCredential(env, issuer, `${macaroonToBase64(m)}:${random32Hex()}`)).reason).toBe(
      "unknown_identifier",
    );
    void encodeIdentifier;
  });
});
