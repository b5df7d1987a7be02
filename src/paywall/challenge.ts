// Issuing and verifying L402 challenges: an invoice from the issuer's wallet and a real macaroon
// (binary V2, v0 identifier = version ‖ payment hash ‖ token id) whose root key is derived from the
// L402_ROOT_KEY secret, the issuer and the token id, so nothing per token needs storing.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { SatchelError } from "../errors";
import { random32Hex } from "../ids";
import { call, ledgerStub } from "../ledger/client";
import { preimageMatches } from "../lightning/preimage";
import { paywallConfig } from "./config";
import { l402Header, parseL402Token } from "./l402";
import {
  caveatStrings,
  decodeIdentifier,
  decodeMacaroon,
  encodeIdentifier,
  macaroonToBase64,
  mintMacaroon,
  signatureValid,
} from "./macaroon";

/** The service name in every caveat Satchel writes (Aperture's `services=name:tier` convention). */
export const SERVICE = "satchel";

/** Who issues challenges: an agent (its ledger) or the demo paywall (a fake node). */
export interface ChallengeIssuer {
  /** Part of the root key derivation: a token of one issuer never verifies at another. */
  id: string;
  makeInvoice(req: {
    amountMsat: number;
    description: string;
    expirySeconds: number;
  }): Promise<{ invoice: string; paymentHash: string; expiresAt: number }>;
  /** Whether the invoice with this hash, issued by this issuer, has been paid. */
  isPaid(paymentHash: string): Promise<boolean>;
}

export interface Challenge {
  invoice: string;
  macaroon: string;
  paymentHash: string;
  tokenId: string;
  /** unix seconds: when the invoice and the token expire. */
  expiresAt: number;
  /** The WWW-Authenticate value a server answers with. */
  header: string;
}

export type VerifyReason =
  | "valid"
  | "malformed"
  | "not_a_macaroon"
  | "unknown_identifier"
  | "bad_signature"
  | "preimage_mismatch"
  | "wrong_service"
  | "wrong_resource"
  | "expired"
  | "unknown_caveat"
  | "not_paid";

export interface Verification {
  valid: boolean;
  reason: VerifyReason;
  message: string;
  paymentHash: string | null;
  resource: string | null;
  expiresAt: number | null;
}

function rootKeyFor(env: Env, issuer: string, tokenId: string): Uint8Array {
  const master = paywallConfig(env).l402RootKey;
  if (!master) {
    throw new SatchelError("UNSUPPORTED", "This deployment has no L402 root key, so it cannot issue or verify L402.", {
      hint: "The operator of this Satchel sets the L402_ROOT_KEY secret.",
    });
  }
  return hmac(sha256, utf8ToBytes(master), utf8ToBytes(`satchel/l402/v0\u0000${issuer}\u0000${tokenId}`));
}

/** Creates an invoice and its macaroon. */
export async function createChallenge(
  env: Env,
  issuer: ChallengeIssuer,
  req: { resource: string; priceSats: number; description: string; expirySeconds: number; location?: string },
): Promise<Challenge> {
  rootKeyFor(env, issuer.id, "0".repeat(64)); // refuse before an invoice is made when no key is set
  const made = await issuer.makeInvoice({
    amountMsat: req.priceSats * 1000,
    description: req.description,
    expirySeconds: req.expirySeconds,
  });
  const tokenId = random32Hex();
  const mac = mintMacaroon({
    rootKey: rootKeyFor(env, issuer.id, tokenId),
    identifier: encodeIdentifier(made.paymentHash, tokenId),
    ...(req.location ? { location: req.location } : {}),
    caveats: [`services=${SERVICE}:0`, `resource=${req.resource}`, `valid_until=${made.expiresAt}`],
  });
  const macaroon = macaroonToBase64(mac);
  return {
    invoice: made.invoice,
    macaroon,
    paymentHash: made.paymentHash,
    tokenId,
    expiresAt: made.expiresAt,
    header: l402Header(macaroon, made.invoice),
  };
}

function invalid(reason: VerifyReason, message: string, partial: Partial<Verification> = {}): Verification {
  return { valid: false, reason, message, paymentHash: null, resource: null, expiresAt: null, ...partial };
}

/**
 * Checks an L402 credential (`L402 <macaroon>:<preimage>`, LSAT, or bare): signature chain, preimage,
 * caveats (service, resource when one is expected, expiry) and that the invoice was paid.
 */
export async function verifyCredential(
  env: Env,
  issuer: ChallengeIssuer,
  token: string,
  opts: { resource?: string; nowSeconds?: number } = {},
): Promise<Verification> {
  const parsed = parseL402Token(token);
  if (!parsed) return invalid("malformed", "Expected `L402 <macaroon>:<preimage>` with a 64-hex-digit preimage.");
  let mac;
  try {
    mac = decodeMacaroon(parsed.macaroon);
  } catch {
    return invalid("not_a_macaroon", "The macaroon is not a valid base64 macaroon.");
  }
  const id = decodeIdentifier(mac.identifier);
  if (!id) return invalid("unknown_identifier", "The macaroon's identifier is not an L402 v0 identifier.");
  const known = { paymentHash: id.paymentHash };
  if (!signatureValid(mac, rootKeyFor(env, issuer.id, id.tokenId))) {
    return invalid("bad_signature", "The macaroon was not issued here, or was altered.", known);
  }
  if (!preimageMatches(parsed.preimage, id.paymentHash)) {
    return invalid("preimage_mismatch", "The preimage does not hash to the macaroon's payment hash.", known);
  }
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  let resource: string | null = null;
  let expiresAt: number | null = null;
  for (const c of caveatStrings(mac)) {
    const eq = c?.indexOf("=") ?? -1;
    if (c === null || eq <= 0)
      return invalid("unknown_caveat", "The macaroon has a caveat Satchel does not know.", known);
    const key = c.slice(0, eq).trim();
    const value = c.slice(eq + 1).trim();
    if (key === "services") {
      const names = value.split(",").map((s) => s.trim().split(":")[0]);
      if (!names.includes(SERVICE)) return invalid("wrong_service", "The macaroon is for another service.", known);
    } else if (key === "resource") {
      // Caveats only narrow: a second resource caveat must agree with the first.
      if (resource !== null && resource !== value) {
        return invalid("wrong_resource", "The macaroon's resource caveats contradict each other.", known);
      }
      resource = value;
    } else if (key === "valid_until") {
      const t = Number(value);
      if (!Number.isSafeInteger(t)) return invalid("unknown_caveat", "Unreadable valid_until caveat.", known);
      expiresAt = expiresAt === null ? t : Math.min(expiresAt, t);
    } else {
      return invalid("unknown_caveat", `The macaroon has a caveat Satchel does not know (${key.slice(0, 40)}).`, known);
    }
  }
  const facts = { paymentHash: id.paymentHash, resource, expiresAt };
  if (opts.resource !== undefined && resource !== opts.resource) {
    return invalid("wrong_resource", "The macaroon was issued for another resource.", facts);
  }
  if (expiresAt !== null && expiresAt < now) return invalid("expired", "The token has expired.", facts);
  if (!(await issuer.isPaid(id.paymentHash))) {
    return invalid("not_paid", "The invoice behind this token has not been paid to this issuer.", facts);
  }
  return { valid: true, reason: "valid", message: "The token is valid and its invoice was paid.", ...facts };
}

/** An agent as issuer: invoices from its ledger (in its name), paid when its ledger says so. */
export function agentIssuer(env: Env, agentId: string): ChallengeIssuer {
  const ledger = () => ledgerStub(env, agentId);
  return {
    id: `agent:${agentId}`,
    async makeInvoice(req) {
      const e = await call(ledger().createInvoice(req));
      return { invoice: e.invoice!, paymentHash: e.paymentHash!, expiresAt: e.expiresAt ?? 0 };
    },
    async isPaid(paymentHash) {
      try {
        return (await call(ledger().invoiceStatus(paymentHash))).status === "succeeded";
      } catch (e) {
        if (e instanceof SatchelError && e.code === "NOT_FOUND") return false;
        throw e;
      }
    },
  };
}
