import { createMcpHandler } from "agents/mcp/server";
import { authenticate } from "./auth/authenticate";
import { fromProps, toProps, type Principal } from "./auth/principal";
import { createServerV2 } from "./mcp/server";
import { SatchelSseSession } from "./mcp/sse";

export { AgentLedger } from "./ledger/agent-ledger";
export { FakeLightningNetwork } from "./wallet/fake-network";
export { SatchelSseSession };

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

function unauthorized(): Response {
  return new Response(JSON.stringify({ error: "unauthorized", message: "Send Authorization: Bearer <api key>." }), {
    status: 401,
    headers: {
      "content-type": "application/json",
      "www-authenticate":
        'Bearer realm="satchel", error="invalid_token", error_description="Missing or invalid API key"',
    },
  });
}

async function serveMcp(request: Request, env: Env, ctx: ExecutionContext, principal: Principal): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/mcp") {
    const props = toProps(principal);
    return mcp.fetch(request, {
      authInfo: { token: principal.keyId, clientId: principal.keyId, scopes: [], extra: { ...props, [ENV]: env } },
    });
  }
  // serveSSE reads the principal from ctx.props and hands it to the session's Durable Object.
  const withProps = Object.assign(Object.create(ctx) as ExecutionContext, { props: toProps(principal) });
  withProps.waitUntil = ctx.waitUntil.bind(ctx);
  withProps.passThroughOnException = ctx.passThroughOnException.bind(ctx);
  return sse.fetch(request, env, withProps);
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") {
      return Response.json({ ok: true, service: "satchel" }, { headers: { "cache-control": "no-store" } });
    }
    if (pathname === "/mcp" || pathname === "/sse" || pathname.startsWith("/sse/")) {
      if (request.method === "OPTIONS") return mcp(request, env, ctx);
      const principal = await authenticate(env, request.headers.get("authorization"));
      if (!principal) return unauthorized();
      return serveMcp(request, env, ctx, principal);
    }
    return new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
