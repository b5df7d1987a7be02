import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

const KEY_PATTERN = /^sat_(op|ag)_[A-Za-z0-9_]{32,100}$/;

/** A new API key; the caller shows `key` once and stores only `hash`. */
export function generateKey(kind: "operator" | "agent"): { key: string; hash: string; prefix: string } {
  const key = `sat_${kind === "operator" ? "op" : "ag"}_${bytesToHex(randomBytes(32))}`;
  return { key, hash: hashKey(key), prefix: key.slice(0, 11) };
}

/**
 * SHA-256 of the key. Keys carry 256 random bits, so a fast hash is as strong as a slow KDF here,
 * and it keeps authentication to one indexed lookup.
 */
export function hashKey(key: string): string {
  return bytesToHex(sha256(utf8ToBytes(key)));
}

/** Cheap shape check that rejects junk before any database lookup. */
export function looksLikeKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Constant-time comparison for the development key, which is compared rather than looked up. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = utf8ToBytes(a);
  const y = utf8ToBytes(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
