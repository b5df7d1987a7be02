import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { bech32 } from "@scure/base";
import { newId } from "../ids";
import { insertOperator } from "../store/accounts";
import { issueRecoveryCode } from "./recovery";

/**
 * LNURL-auth (LUD-04, keys per LUD-05): the sign-in page shows `lnurl…`, the bech32 form of
 * `<origin>/auth/lnurl/callback?tag=login&k1=<32 random bytes>`. A wallet signs k1 with its
 * linking key for this domain and calls that URL with `&sig=<DER>&key=<pubkey>`. The page polls
 * until the signature has verified, then finishes the sign-in in the browser that started it. An
 * unknown linking key signs up a new operator.
 */

export const LNURL_CALLBACK_PATH = "/auth/lnurl/callback";
const TTL_MS = 10 * 60 * 1000;

export type LnurlReply = { status: "OK" } | { status: "ERROR"; reason: string };

/** bech32 of a URL with the `lnurl` prefix (LUD-01), upper-case so QR codes use alphanumeric mode. */
export function encodeLnurl(url: string): string {
  return bech32.encode("lnurl", bech32.toWords(utf8ToBytes(url)), false).toUpperCase();
}

/** The URL inside an `lnurl…` string. */
export function decodeLnurl(lnurl: string): string {
  const { words } = bech32.decode(lnurl.toLowerCase(), false);
  return new TextDecoder().decode(bech32.fromWords(words));
}

/** True when `sig` (DER, hex) is a valid secp256k1 signature of the 32 bytes k1 by `key` (hex). */
export function verifyLnurlSignature(k1: string, sig: string, key: string): boolean {
  try {
    // k1 is signed as it is (it already is 32 bytes): no prehash. High-S is tolerated; it only
    // matters for transaction malleability, not here.
    return secp256k1.verify(hexToBytes(sig), hexToBytes(k1), hexToBytes(key), {
      prehash: false,
      format: "der",
      lowS: false,
    });
  } catch {
    return false;
  }
}

/** Starts a ceremony bound to this browser; returns k1 and the `lnurl…` to show. */
export async function newLnurlChallenge(
  env: Env,
  origin: string,
  browserHash: string,
): Promise<{ k1: string; lnurl: string; url: string }> {
  const k1 = bytesToHex(randomBytes(32));
  const now = Date.now();
  await env.DB.batch([
    // Housekeeping: ceremonies nobody finished.
    env.DB.prepare("DELETE FROM auth_challenges WHERE expires_at < ?").bind(now - TTL_MS),
    env.DB.prepare(
      "INSERT INTO auth_challenges (id, kind, browser_hash, created_at, expires_at) VALUES (?, 'lnurl', ?, ?, ?)",
    ).bind(k1, browserHash, now, now + TTL_MS),
  ]);
  const url = `${origin}${LNURL_CALLBACK_PATH}?tag=login&k1=${k1}&action=login`;
  return { k1, lnurl: encodeLnurl(url), url };
}

/** The wallet's callback: verifies the signature and marks the ceremony verified (once). */
export async function handleLnurlCallback(env: Env, params: URLSearchParams): Promise<LnurlReply> {
  const k1 = params.get("k1") ?? "";
  const sig = params.get("sig") ?? "";
  const key = (params.get("key") ?? "").toLowerCase();
  if (params.get("tag") !== "login") return { status: "ERROR", reason: "tag must be login" };
  if (!/^[0-9a-f]{64}$/.test(k1)) return { status: "ERROR", reason: "k1 must be 32 bytes of hex" };
  if (!/^(02|03)[0-9a-f]{64}$/.test(key)) return { status: "ERROR", reason: "key must be a compressed public key" };
  if (!/^[0-9a-fA-F]{16,146}$/.test(sig)) return { status: "ERROR", reason: "sig must be a DER signature in hex" };
  const row = await env.DB.prepare("SELECT status, expires_at FROM auth_challenges WHERE id = ? AND kind = 'lnurl'")
    .bind(k1)
    .first<{ status: string; expires_at: number }>();
  if (!row) return { status: "ERROR", reason: "unknown k1" };
  if (row.status !== "pending") return { status: "ERROR", reason: "k1 already used" };
  if (row.expires_at <= Date.now()) return { status: "ERROR", reason: "k1 expired" };
  if (!verifyLnurlSignature(k1, sig, key)) return { status: "ERROR", reason: "invalid signature" };
  // Only one signature per k1 wins, even if two wallets race.
  const updated = await env.DB.prepare(
    "UPDATE auth_challenges SET status = 'verified', linking_key = ? WHERE id = ? AND kind = 'lnurl' AND status = 'pending' AND expires_at > ?",
  )
    .bind(key, k1, Date.now())
    .run();
  return updated.meta.changes === 1 ? { status: "OK" } : { status: "ERROR", reason: "k1 already used" };
}

export type LnurlState = "pending" | "verified" | "expired" | "unknown";

/** What the polling page sees; only the browser that started the ceremony may ask. */
export async function lnurlState(env: Env, k1: string, browserHash: string): Promise<LnurlState> {
  if (!/^[0-9a-f]{64}$/.test(k1)) return "unknown";
  const row = await env.DB.prepare(
    "SELECT status, expires_at FROM auth_challenges WHERE id = ? AND kind = 'lnurl' AND browser_hash = ?",
  )
    .bind(k1, browserHash)
    .first<{ status: string; expires_at: number }>();
  if (!row || row.status === "used") return "unknown";
  if (row.status === "verified") return "verified";
  return row.expires_at <= Date.now() ? "expired" : "pending";
}

/**
 * Finishes a verified ceremony in the browser that started it: the operator of the linking key, or
 * a new operator (with a recovery code to show once) for a key seen for the first time.
 */
export async function completeLnurl(
  env: Env,
  k1: string,
  browserHash: string,
): Promise<{ operatorId: string; recoveryCode: string | null } | null> {
  if (!/^[0-9a-f]{64}$/.test(k1)) return null;
  const row = await env.DB.prepare(
    `UPDATE auth_challenges SET status = 'used'
     WHERE id = ? AND kind = 'lnurl' AND browser_hash = ? AND status = 'verified'
     RETURNING linking_key`,
  )
    .bind(k1, browserHash)
    .first<{ linking_key: string }>();
  if (!row) return null;
  const key = row.linking_key;
  const now = Date.now();
  const known = await env.DB.prepare("SELECT operator_id FROM lnurl_keys WHERE linking_key = ?")
    .bind(key)
    .first<{ operator_id: string }>();
  if (known) {
    await env.DB.prepare("UPDATE lnurl_keys SET last_used_at = ? WHERE linking_key = ?").bind(now, key).run();
    return { operatorId: known.operator_id, recoveryCode: null };
  }
  const operatorId = newId("opr");
  await insertOperator(env.DB, { id: operatorId, name: `Lightning wallet ${key.slice(0, 10)}`, createdAt: now });
  const inserted = await env.DB.prepare(
    "INSERT OR IGNORE INTO lnurl_keys (linking_key, operator_id, created_at, last_used_at) VALUES (?, ?, ?, ?)",
  )
    .bind(key, operatorId, now, now)
    .run();
  if (inserted.meta.changes !== 1) {
    // Another ceremony with the same new key finished first: sign in to the operator it created.
    const winner = await env.DB.prepare("SELECT operator_id FROM lnurl_keys WHERE linking_key = ?")
      .bind(key)
      .first<{ operator_id: string }>();
    return winner ? { operatorId: winner.operator_id, recoveryCode: null } : null;
  }
  return { operatorId, recoveryCode: await issueRecoveryCode(env, operatorId) };
}
