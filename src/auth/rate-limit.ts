import { getConfig } from "../config";
import { SatchelError } from "../errors";

/**
 * The limits of the two Workers Rate Limiting bindings in wrangler.jsonc (the binding does not
 * report them, so they are restated here for get_rate_limits; keep both in step).
 */
export const RATE_LIMITS = {
  perKey: { limit: 1200, periodSeconds: 60 },
  perIp: { limit: 3000, periodSeconds: 60 },
} as const;

/** False only in development when RATE_LIMITS=off (the benchmark's server), never in production. */
function enabled(env: Env): boolean {
  const off = (env as unknown as { RATE_LIMITS?: string }).RATE_LIMITS === "off";
  return !(off && getConfig(env).development);
}

/**
 * Per-IP limit for every route but /health. Requests without a client address (internal calls,
 * the test runtime) have no IP bucket; keys still have theirs.
 */
export async function limitIp(env: Env, request: Request): Promise<Response | null> {
  const ip = request.headers.get("cf-connecting-ip");
  if (!ip || !enabled(env)) return null;
  const { success } = await env.IP_RATE_LIMITER.limit({ key: `ip:${ip}` });
  return success ? null : tooManyRequests(RATE_LIMITS.perIp.periodSeconds);
}

/** Per-credential limit on tool calls: an API key, an OAuth grant or the dev key. */
export async function limitKey(env: Env, keyId: string): Promise<void> {
  if (!enabled(env)) return;
  const { success } = await env.KEY_RATE_LIMITER.limit({ key: `key:${keyId}` });
  if (!success) {
    throw new SatchelError(
      "RATE_LIMITED",
      `Too many calls with this credential (limit ${RATE_LIMITS.perKey.limit} per ${RATE_LIMITS.perKey.periodSeconds} s).`,
      {
        hint: `Wait up to ${RATE_LIMITS.perKey.periodSeconds} seconds, then retry; get_rate_limits shows the limits.`,
        details: { retry_after_seconds: RATE_LIMITS.perKey.periodSeconds },
      },
    );
  }
}

/** HTTP 429 with Retry-After (the binding's window: waiting that long always clears it). */
export function tooManyRequests(retryAfterSeconds: number): Response {
  return Response.json(
    { error: "rate_limited", message: "Too many requests.", retry_after_seconds: retryAfterSeconds },
    { status: 429, headers: { "retry-after": String(retryAfterSeconds), "cache-control": "no-store" } },
  );
}
