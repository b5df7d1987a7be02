import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { hashKey, timingSafeEqual } from "./keys";

const COOKIE = "satchel_session";
const TTL_MS = 7 * 24 * 3600 * 1000;
const BROWSER_COOKIE = "satchel_browser";
const BROWSER_TTL_S = 24 * 3600;

/** A signed-in operator in a browser. */
export interface WebSession {
  operatorId: string;
  /** Put in every form as `csrf`; checked by verifyCsrf on every state-changing request. */
  csrf: string;
  tokenHash: string;
}

/**
 * Starts a session for an operator; returns the Set-Cookie header value. The operator's expired
 * sessions are deleted in the same batch, so the table holds live sessions plus, at most, the
 * expired ones of operators who have not signed in since.
 */
export async function createSession(env: Env, operatorId: string, secure: boolean): Promise<string> {
  const token = bytesToHex(randomBytes(32));
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("DELETE FROM web_sessions WHERE operator_id = ? AND expires_at <= ?").bind(operatorId, now),
    env.DB.prepare(
      "INSERT INTO web_sessions (token_hash, operator_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    ).bind(hashKey(token), operatorId, bytesToHex(randomBytes(32)), now, now + TTL_MS),
  ]);
  return cookie(token, TTL_MS / 1000, secure);
}

/** The session the request's cookie names, if it is live. */
export async function getSession(request: Request, env: Env): Promise<WebSession | null> {
  const token = readCookie(request.headers.get("cookie"), COOKIE);
  if (!token || !/^[0-9a-f]{64}$/.test(token)) return null;
  const row = await env.DB.prepare(
    "SELECT operator_id, csrf_token, token_hash FROM web_sessions WHERE token_hash = ? AND expires_at > ?",
  )
    .bind(hashKey(token), Date.now())
    .first<{ operator_id: string; csrf_token: string; token_hash: string }>();
  return row ? { operatorId: row.operator_id, csrf: row.csrf_token, tokenHash: row.token_hash } : null;
}

/** Ends the session; returns the Set-Cookie header value that clears the cookie. */
export async function destroySession(env: Env, session: WebSession, secure: boolean): Promise<string> {
  await env.DB.prepare("DELETE FROM web_sessions WHERE token_hash = ?").bind(session.tokenHash).run();
  return cookie("", 0, secure);
}

/** True when the submitted token is this session's CSRF token. */
export function verifyCsrf(session: WebSession, submitted: unknown): boolean {
  return typeof submitted === "string" && timingSafeEqual(submitted, session.csrf);
}

/**
 * A browser before it signs in: a random token in its own cookie. Sign-in ceremonies (LNURL-auth,
 * passkeys) are bound to its hash, and pre-session forms carry `preSessionCsrf(token)`, a
 * double-submit token that a cross-site page can neither read nor forge.
 */
export interface BrowserBinding {
  token: string;
  /** Stored with a ceremony; compared on every step of it. */
  hash: string;
  /** Set-Cookie value when the token was just made; send it with the response. */
  setCookie: string | null;
}

/** The browser's binding token, made (with its Set-Cookie) when the request carries none. */
export function browserBinding(request: Request): BrowserBinding {
  const existing = readCookie(request.headers.get("cookie"), BROWSER_COOKIE);
  const secure = new URL(request.url).protocol === "https:";
  if (existing && /^[0-9a-f]{64}$/.test(existing)) return { token: existing, hash: hashKey(existing), setCookie: null };
  const token = bytesToHex(randomBytes(32));
  const setCookie = `${BROWSER_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${BROWSER_TTL_S}${secure ? "; Secure" : ""}`;
  return { token, hash: hashKey(token), setCookie };
}

/** The binding of a request that must already carry one (a ceremony's later steps), or null. */
export function existingBrowserBinding(request: Request): BrowserBinding | null {
  const binding = browserBinding(request);
  return binding.setCookie === null ? binding : null;
}

/** The CSRF token of pre-session forms for a browser binding (derived, so the page never holds the cookie). */
export function preSessionCsrf(binding: BrowserBinding): string {
  return hashKey(`csrf:${binding.token}`);
}

/** True when a pre-session form's token matches the request's browser binding. */
export function verifyPreSessionCsrf(request: Request, submitted: unknown): boolean {
  const binding = existingBrowserBinding(request);
  return binding !== null && typeof submitted === "string" && timingSafeEqual(submitted, preSessionCsrf(binding));
}

/** True when the request came over https (cookies then get Secure). */
export function isSecure(request: Request): boolean {
  return new URL(request.url).protocol === "https:";
}

function cookie(value: string, maxAge: number, secure: boolean): string {
  // SameSite=Lax keeps the cookie off cross-site POSTs; CSRF tokens cover the rest.
  return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
}

function readCookie(header: string | null, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}
