/**
 * OAuth access tokens verified moments ago, kept per isolate by the hash of the token (never the
 * token itself) with the principal props they resolved to. Verifying a token costs a KV read, an
 * unwrap and decrypt of the grant's props, and for an agent a D1 status check: the largest part of
 * an OAuth tool call. The policy is the API-key cache's (`findKeyByHash` in accounts.ts): an entry
 * lives OAUTH_CACHE_TTL_MS at most, never past the token's own expiry, and every write that can end
 * a grant or an agent forgets them all, so this isolate refuses such a token at once; other
 * isolates within the TTL. That window moves no money: an agent's ledger refuses the payments of a
 * disabled or deleted agent itself, at once, wherever the call comes from.
 *
 * This module knows nothing of principals (the store layer does not import src/auth): props are the
 * plain record the provider hands to the API handler.
 */
export const OAUTH_CACHE_TTL_MS = 10_000;
const OAUTH_CACHE_MAX = 1_000;

export interface VerifiedToken {
  /** The origin (the resource) the token was verified for; another origin must verify it itself. */
  origin: string;
  props: Readonly<Record<string, unknown>>;
  /** Epoch ms after which the entry is not used. */
  until: number;
}

const verified = new Map<string, VerifiedToken>();

/**
 * Bumped by every forget. A verification that started before a forget may have read the grant just
 * before it was revoked: such a result is not stored (see rememberOAuthToken's `since`).
 */
let generation = 0;

export function oauthCacheGeneration(): number {
  return generation;
}

/** The entry for this token hash, while it lasts. */
export function recallOAuthToken(tokenHash: string): VerifiedToken | null {
  const hit = verified.get(tokenHash);
  if (!hit) return null;
  if (hit.until > Date.now()) return hit;
  verified.delete(tokenHash);
  return null;
}

/**
 * Keeps a verified token for at most OAUTH_CACHE_TTL_MS and never past `expiresAtMs`, unless
 * something was forgotten since `since` (the generation read before verification began).
 */
export function rememberOAuthToken(
  tokenHash: string,
  entry: { origin: string; props: Record<string, unknown>; expiresAtMs: number },
  since: number,
): void {
  if (since !== generation) return;
  const until = Math.min(Date.now() + OAUTH_CACHE_TTL_MS, entry.expiresAtMs);
  if (!(until > Date.now())) return;
  verified.delete(tokenHash);
  // Maps keep insertion order: when full, the oldest entry goes.
  if (verified.size >= OAUTH_CACHE_MAX) verified.delete(verified.keys().next().value!);
  verified.set(tokenHash, { origin: entry.origin, props: Object.freeze({ ...entry.props }), until });
}

/** Forgets every cached token: called by whatever ends a grant or disables or deletes an agent. */
export function forgetOAuthTokens(): void {
  generation++;
  verified.clear();
}
