import { base32 } from "@scure/base";
import { randomBytes } from "@noble/hashes/utils.js";
import { hashKey } from "./keys";

/**
 * Recovery codes: one per operator, shown once, stored only as a SHA-256 hash. A code carries 120
 * random bits, so a fast hash is enough (as for API keys). Redeeming one deletes it; the recovery
 * page then shows a fresh code.
 */

/** Upper-case, dash-free form: what the user typed, forgiving of spaces, dashes and case. */
function normalise(code: string): string {
  return code.toUpperCase().replace(/[^A-Z2-7]/g, "");
}

/** A new random code, grouped for reading: XXXXXX-XXXXXX-XXXXXX-XXXXXX. */
export function newRecoveryCode(): string {
  const raw = base32.encode(randomBytes(15)); // 24 characters
  return raw.match(/.{6}/g)!.join("-");
}

/** Gives the operator a new recovery code (replacing any old one); returns it to be shown once. */
export async function issueRecoveryCode(env: Env, operatorId: string): Promise<string> {
  const code = newRecoveryCode();
  await env.DB.prepare(
    `INSERT INTO recovery_codes (operator_id, code_hash, created_at) VALUES (?, ?, ?)
     ON CONFLICT (operator_id) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at`,
  )
    .bind(operatorId, hashKey(normalise(code)), Date.now())
    .run();
  return code;
}

/** The operator a code belongs to, consuming the code; null for a wrong or used code. */
export async function redeemRecoveryCode(env: Env, submitted: string): Promise<string | null> {
  const code = normalise(submitted);
  if (code.length !== 24) return null;
  const row = await env.DB.prepare("DELETE FROM recovery_codes WHERE code_hash = ? RETURNING operator_id")
    .bind(hashKey(code))
    .first<{ operator_id: string }>();
  return row?.operator_id ?? null;
}
