import type { OAuthResourceAuth } from "@cloudflare/workers-oauth-provider";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { credentialGeneration, recallOAuthToken, rememberOAuthToken } from "../store/credential-cache";
import { fromProps, toProps, type Principal } from "./principal";

/**
 * The principal of an OAuth access token, remembered for a few seconds once the provider has
 * verified the token and the API handler has accepted it (policy and invalidation:
 * src/store/credential-cache.ts), so a repeat call with the same token is served without the
 * provider's KV read and decryption or the agent status check.
 */

/** The cache generation when each protected request was handed to the provider to verify. */
const verificationStarted = new WeakMap<Request, number>();

/** The bearer token as the provider reads it (scheme case-insensitive, spaces or tabs before it). */
function bearerToken(request: Request): string | null {
  return /^Bearer[\t ]+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1] ?? null;
}

/** Entries are keyed by a hash: a copy of the isolate's memory must not yield usable tokens. */
function tokenHash(token: string): string {
  return bytesToHex(sha256(utf8ToBytes(token)));
}

/**
 * The principal of this request's bearer token if the provider verified that token for this origin
 * moments ago; null sends the request to the provider as usual.
 */
export function recallOAuthPrincipal(request: Request, origin: string): Principal | null {
  const token = bearerToken(request);
  if (!token) return null;
  const hit = recallOAuthToken(tokenHash(token));
  // A token is bound to the origin it was issued for; at another origin the provider decides.
  if (!hit || hit.origin !== origin) return null;
  return fromProps(hit.props);
}

/** Marks a protected request as handed to the provider now (see rememberOAuthPrincipal). */
export function beginOAuthVerification(request: Request): void {
  verificationStarted.set(request, credentialGeneration());
}

/**
 * Remembers the principal of a token the provider verified (`auth` is its ctx.auth) and the API
 * handler accepted. Nothing is kept for a request that did not go through beginOAuthVerification,
 * for a principal that is not an OAuth one (an API key the provider resolved), for a token without
 * a known expiry, or when a grant or agent may have ended while the request was being verified.
 */
export function rememberOAuthPrincipal(
  request: Request,
  auth: OAuthResourceAuth | undefined,
  origin: string,
  principal: Principal,
): void {
  const since = verificationStarted.get(request);
  if (since === undefined || principal.via !== "oauth" || typeof auth?.expiresAt !== "number") return;
  rememberOAuthToken(
    tokenHash(auth.token),
    { origin, props: toProps(principal), expiresAtMs: auth.expiresAt * 1000 },
    since,
  );
}
