import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { hashKey, timingSafeEqual } from "./keys";

const COOKIE = "satchel_session";
const TTL_MS = 7 * 24 * 3600 * 1000;

/** A signed-in operator in a browser. */
export interface WebSession {
  operatorId: string;
  /** Put in every form as `csrf`; checked by verifyCsrf on every state-changing request. */
  csrf: string;
  tokenHash: string;
}

/** Starts a session for an operator; returns the Set-Cookie header value. */
export async function createSession(env: Env, operatorId: string, secure: boolean): Promise<string> {
  const token = bytesToHex(randomBytes(32));
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO web_sessions (token_hash, operator_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
  )
    .bind(hashKey(token), operatorId, bytesToHex(randomBytes(32)), now, now + TTL_MS)
    .run();
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
