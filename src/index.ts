import { createMcpHandler } from "agents/mcp/server";
import { resolveAgent } from "./accounts/agents";
import { getConfig } from "./config";
import { SatchelError } from "./errors";
import { ledgerStub } from "./ledger/client";
import { FAKE_NETWORK_NAME } from "./wallet/fake";
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

function forbidden(): Response {
  return Response.json({ error: "forbidden", message: "This session belongs to another key." }, { status: 403 });
}

async function serveMcp(request: Request, env: Env, ctx: ExecutionContext, principal: Principal): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/mcp") {
    const props = toProps(principal);
    return mcp.fetch(request, {
      authInfo: { token: principal.keyId, clientId: principal.keyId, scopes: [], extra: { ...props, [ENV]: env } },
    });
  }
  // A session id in the URL addresses another connection's stream: only its opener may use it.
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

/**
 * Development only: times reserve+settle cycles inside one AgentLedger for `npm run bench`.
 * Needs an operator key; the agent must belong to that operator.
 */
async function benchLedger(request: Request, env: Env): Promise<Response> {
  if (!getConfig(env).development) return new Response("Not found", { status: 404 });
  const principal = await authenticate(env, request.headers.get("authorization"));
  if (principal?.kind !== "operator") return unauthorized();
  const body = (await request.json().catch(() => ({}))) as { agent_id?: unknown; n?: unknown };
  const n = typeof body.n === "number" && Number.isInteger(body.n) && body.n > 0 && body.n <= 100_000 ? body.n : 1000;
  try {
    const agentId = await resolveAgent(env, principal, typeof body.agent_id === "string" ? body.agent_id : undefined);
    const settled = await ledgerStub(env, agentId).benchmarkReserveSettle(n);
    return Response.json({ n, settled });
  } catch (e) {
    return Response.json({ error: e instanceof SatchelError ? e.toJSON() : "internal" }, { status: 400 });
  }
}

/**
 * Development only: an invoice from a fake "merchant" node outside every operator's wallet, so a
 * newcomer (and the e2e tests and benchmarks) can pay an external invoice locally.
 */
async function fakeMerchantInvoice(request: Request, env: Env): Promise<Response> {
  const config = getConfig(env);
  if (!config.development) return new Response("Not found", { status: 404 });
  const principal = await authenticate(env, request.headers.get("authorization"));
  if (principal?.kind !== "operator") return unauthorized();
  const body = (await request.json().catch(() => ({}))) as { amount_sats?: unknown; description?: unknown };
  const sats = body.amount_sats;
  if (typeof sats !== "number" || !Number.isInteger(sats) || sats < 1 || sats > 100_000_000) {
    return Response.json({ error: "amount_sats must be an integer from 1 to 100000000" }, { status: 400 });
  }
  const description = typeof body.description === "string" ? body.description.slice(0, 200) : "fake merchant";
  const network = env.FAKE_LN.get(env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
  const made = await network.makeInvoice(
    { id: "merchant", startMsat: 0 },
    {
      amountMsat: sats * 1000,
      description,
      expirySeconds: 3600,
      network: config.network,
      now: Math.floor(Date.now() / 1000),
    },
  );
  return Response.json({ invoice: made.invoice, payment_hash: made.paymentHash });
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
    if (pathname === "/dev/bench/ledger" && request.method === "POST") return benchLedger(request, env);
    if (pathname === "/dev/fake-invoice" && request.method === "POST") return fakeMerchantInvoice(request, env);
    return new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
