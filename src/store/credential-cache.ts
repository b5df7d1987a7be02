/**
 * Credentials verified moments ago, kept per isolate: live API keys (by key hash, `findKeyByHash`
 * in accounts.ts) and OAuth access tokens (by token hash, never the token itself, with the principal
 * props they resolved to). Checking a credential is the largest part of a tool call: a D1 read for
 * a key; a KV read, an unwrap and decrypt of the grant's props and a D1 agent check for a token.
 *
 * The policy is the same for both: an entry lives CREDENTIAL_CACHE_TTL_MS at most (a token never past
 * its own expiry), and every write that can end a key, a grant or an agent calls forgetCredentials,
 * so this isolate refuses such a credential at once; other isolates within the TTL. That window moves
 * no money: an agent's ledger refuses the payments of a disabled or deleted agent itself, at once,
 * wherever the call comes from.
 *
 * This module knows nothing of principals (the store layer does not import src/auth): token props
 * are the plain record the provider hands to the API handler.
 */
export const CREDENTIAL_CACHE_TTL_MS = 10_000;
const CACHE_MAX = 1_000;

/**
 * Bumped by every forget. A check that started before a forget may have read a credential just
 * before it ended: its result is not stored (the `since` of TtlCache.set).
 */
let generation = 0;
const caches: TtlCache<unknown>[] = [];

/** A bounded map whose entries expire; the oldest entry goes first when it is full. */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor() {
    caches.push(this as TtlCache<unknown>);
  }

  get(key: string): V | null {
    const hit = this.entries.get(key);
    if (!hit) return null;
    if (hit.until > Date.now()) return hit.value;
    this.entries.delete(key);
    return null;
  }

  /** Keeps value until `until` (epoch ms), unless credentials were forgotten since `since`. */
  set(key: string, value: V, until: number, since: number): void {
    if (since !== generation || !(until > Date.now())) return;
    this.entries.delete(key);
    // Maps keep insertion order: when full, the oldest entry goes.
    if (this.entries.size >= CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until });
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The generation to pass as `since` to TtlCache.set, read before a credential is checked. */
export function credentialGeneration(): number {
  return generation;
}

/** Forgets every cached credential: called by whatever ends a key or a grant, or disables or deletes an agent. */
export function forgetCredentials(): void {
  generation++;
  for (const c of caches) c.clear();
}

export interface VerifiedToken {
  /** The origin (the resource) the token was verified for; another origin must verify it itself. */
  origin: string;
  props: Readonly<Record<string, unknown>>;
}

const tokens = new TtlCache<VerifiedToken>();

/** The entry for this token hash, while it lasts. */
export function recallOAuthToken(tokenHash: string): VerifiedToken | null {
  return tokens.get(tokenHash);
}

/** Keeps a verified token for at most the TTL and never past `expiresAtMs`, unless forgotten since `since`. */
export function rememberOAuthToken(
  tokenHash: string,
  entry: { origin: string; props: Record<string, unknown>; expiresAtMs: number },
  since: number,
): void {
  const until = Math.min(Date.now() + CREDENTIAL_CACHE_TTL_MS, entry.expiresAtMs);
  tokens.set(tokenHash, { origin: entry.origin, props: Object.freeze({ ...entry.props }) }, until, since);
}
