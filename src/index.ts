import type { OAuthResourceAuth } from "@cloudflare/workers-oauth-provider";
import { createMcpHandler } from "agents/mcp/server";
import { authenticate } from "./auth/authenticate";
import {
  AUTHORIZE_PATH,
  PROTECTED_ROUTES,
  providerFor,
  resourceMetadataUrl,
  TOKEN_PATH,
  withProtectedRouteCors,
} from "./auth/oauth";
import { beginOAuthVerification, recallOAuthPrincipal, rememberOAuthPrincipal } from "./auth/oauth-cache";
import { fromProps, toProps, type Principal } from "./auth/principal";
import { limitIp } from "./auth/rate-limit";
import { createServerV2 } from "./mcp/server";
import { SatchelSseSession } from "./mcp/sse";
import { getAgent } from "./store/accounts";
import { forgetCredentials } from "./store/credential-cache";
import { app } from "./web/app";

export { AgentLedger } from "./ledger/agent-ledger";
export { FakeLightningNetwork } from "./wallet/fake-network";
export { OperatorDesk } from "./wallet/operator-desk";
export { SatchelSseSession };

/*
 * Request flow:
 *   /health                      → answered here, before anything else (no auth, no KV)
 *   /mcp, /sse, /sse/* with a Satchel API key (Bearer sat_…)
 *                                → authenticate here (one D1 lookup) → serveMcp; the provider would
 *                                  only hand the key back to resolveExternalToken, after parsing
 *                                  URLs and resource metadata on every call
 *   /mcp, /sse, /sse/* with an OAuth token mcpApi accepted moments ago (src/auth/oauth-cache.ts)
 *                                → serveMcp with the remembered principal, the provider's CORS headers
 *   OAuthProvider (per origin, src/auth/oauth.ts)
 *     /.well-known/*, /oauth/token, /oauth/register   → the provider itself (a POST to /oauth/token
 *                                  may revoke a grant: the OAuth token cache is forgotten after it)
 *     /mcp, /sse, /sse/*         → bearer check (OAuth token, else API key via resolveExternalToken)
 *                                  → mcpApi below, with the principal in ctx.props
 *     everything else            → the Hono app (sign-in, consent, dashboard, dev routes)
 */

const mcp = createMcpHandler(
  (ctx) => {
    const principal = fromProps(ctx.authInfo?.extra as Record<string, unknown> | undefined);
    // The Worker authenticates before calling the handler, so a missing principal is a bug.
    if (!principal) throw new Error("MCP request without a principal");
    return createServerV2(envOf(ctx.authInfo?.extra), principal, `key:${principal.keyId}`);
  },
  { route: "/mcp" },
);

const sse = SatchelSseSession.serveSSE("/sse", { binding: "MCP_OBJECT" });

/** Env travels with the principal through the SDK's authInfo, the only per-request channel it offers. */
const ENV = Symbol("env");
function envOf(extra: unknown): Env {
  return (extra as { [ENV]: Env })[ENV];
}

function unauthorized(origin: string | null, description: string): Response {
  const metadata = origin ? `, resource_metadata="${resourceMetadataUrl(origin)}"` : "";
  return Response.json(
    { error: "invalid_token", error_description: description },
    {
      status: 401,
      headers: {
        "cache-control": "no-store",
        "www-authenticate": `Bearer realm="satchel", error="invalid_token", error_description="${description}"${metadata}`,
      },
    },
  );
}

function forbidden(): Response {
  return Response.json({ error: "forbidden", message: "This session belongs to another key." }, { status: 403 });
}

/** Bodies this small are read here; larger or unsized ones are left to the SDK and its own limit. */
const PARSED_BODY_MAX_BYTES = 64 * 1024;

/**
 * A JSON-RPC POST body read and parsed once. Without it the SDK clones the request and reads the
 * body twice (once to tell legacy from modern traffic, once to serve it), a few ms on every call.
 * Returns the request to forward (a replay of the bytes when they are not JSON, for the SDK's own
 * parse error) and the parsed body when there is one.
 */
async function readJsonBody(request: Request): Promise<{ request: Request; parsedBody?: unknown }> {
  const length = Number(request.headers.get("content-length") ?? NaN);
  if (request.method !== "POST" || !(length >= 0 && length <= PARSED_BODY_MAX_BYTES)) return { request };
  const text = await request.text();
  try {
    return { request, parsedBody: JSON.parse(text) as unknown };
  } catch {
    return { request: new Request(request, { body: text }) };
  }
}

async function serveMcp(request: Request, env: Env, ctx: ExecutionContext, principal: Principal): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/mcp") {
    const props = toProps(principal);
    const body = await readJsonBody(request);
    return mcp.fetch(body.request, {
      authInfo: { token: principal.keyId, clientId: principal.keyId, scopes: [], extra: { ...props, [ENV]: env } },
      ...(body.parsedBody === undefined ? {} : { parsedBody: body.parsedBody }),
    });
  }
  // A session id in the URL addresses another connection's stream: only its opener may use it.
  // An OAuth connection's keyId is its grant, so it survives access-token refreshes.
  const sessionId = url.searchParams.get("sessionId");
  if (url.pathname === "/sse" && sessionId !== null) return forbidden();
  if (url.pathname === "/sse/message") {
    if (sessionId === null || !/^[0-9a-f]{64}$/.test(sessionId)) return forbidden();
    const owner = await env.MCP_OBJECT.get(env.MCP_OBJECT.idFromName(`sse:${sessionId}`)).ownerKeyId();
    if (owner !== principal.keyId) return forbidden();
  }
  // serveSSE reads the principal from ctx.props and hands it to the session's Durable Object.
  const withProps = Object.assign(Object.create(ctx) as ExecutionContext, { props: toProps(principal) });
  withProps.waitUntil = ctx.waitUntil.bind(ctx);
  withProps.passThroughOnException = ctx.passThroughOnException.bind(ctx);
  return sse.fetch(request, env, withProps);
}

/** The protected routes, reached only with a verified bearer credential (ctx.props). */
const mcpApi = {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const origin = new URL(request.url).origin;
    const principal = fromProps(ctx.props as Record<string, unknown> | undefined);
    if (!principal) return unauthorized(origin, "Invalid access token");
    // An API key stops working when its agent is disabled (authenticate checks); a grant must too.
    if (principal.via === "oauth" && principal.kind === "agent") {
      const agent = await getAgent(env.DB, principal.operatorId, principal.agentId);
      if (agent?.status !== "active") return unauthorized(origin, "The agent of this grant is disabled");
    }
    // Verified and accepted: a repeat call with this token skips both checks for a few seconds.
    if (principal.via === "oauth") {
      rememberOAuthPrincipal(request, (ctx as { auth?: OAuthResourceAuth }).auth, origin, principal);
    }
    return serveMcp(request, env, ctx, principal);
  },
};

const handlers = { apiHandler: mcpApi, defaultHandler: app };

function isProtected(pathname: string): boolean {
  return PROTECTED_ROUTES.some((r) => pathname === r || pathname.startsWith(`${r}/`));
}

/** A protected route called with an API key: resource metadata is named in the 401 where OAuth exists. */
async function withApiKey(request: Request, env: Env, ctx: ExecutionContext, oauth: boolean): Promise<Response> {
  const principal = await authenticate(env, request.headers.get("authorization"));
  if (!principal) return unauthorized(oauth ? new URL(request.url).origin : null, "Missing or invalid API key");
  return serveMcp(request, env, ctx, principal);
}

/** An origin that cannot host OAuth (plain http off loopback): API keys only, as before OAuth. */
async function withoutOAuth(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (!isProtected(new URL(request.url).pathname)) return app.fetch(request, env, ctx);
  if (request.method === "OPTIONS") return mcp(request, env, ctx);
  return withApiKey(request, env, ctx, false);
}

/**
 * Posts that can end grants inside the provider: the token endpoint (revocation, a reused code, a
 * refresh our callback refuses) and the consent form (approving a client again replaces its earlier
 * grant). They are rare next to tool calls, so all cached tokens are forgotten after each.
 */
function endsGrants(pathname: string): boolean {
  return pathname === TOKEN_PATH || pathname === AUTHORIZE_PATH;
}

/** Satchel's API keys (sat_op_…, sat_ag_…) never look like the provider's tokens (user:grant:secret). */
function carriesApiKey(request: Request): boolean {
  return request.headers.get("authorization")?.startsWith("Bearer sat_") ?? false;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") {
      return Response.json({ ok: true, service: "satchel" }, { headers: { "cache-control": "no-store" } });
    }
    const limited = await limitIp(env, request);
    if (limited) return limited;
    const provider = providerFor(url.origin, handlers);
    if (!provider) return withoutOAuth(request, env, ctx);
    if (isProtected(url.pathname)) {
      if (carriesApiKey(request)) return withApiKey(request, env, ctx, true);
      // The provider answers preflights itself, whatever the credential.
      if (request.method !== "OPTIONS") {
        const cached = recallOAuthPrincipal(request, url.origin);
        if (cached) return withProtectedRouteCors(await serveMcp(request, env, ctx, cached), request);
        beginOAuthVerification(request);
      }
      return provider.fetch(request, env, ctx);
    }
    const response = await provider.fetch(request, env, ctx);
    if (request.method === "POST" && endsGrants(url.pathname)) forgetCredentials();
    return response;
  },
} satisfies ExportedHandler<Env>;
