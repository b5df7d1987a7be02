import { Hono } from "hono";
import { resolveAgent } from "../accounts/agents";
import { authenticate } from "../auth/authenticate";
import { getConfig } from "../config";
import { SatchelError } from "../errors";
import { call, ledgerStub } from "../ledger/client";
import { FAKE_NETWORK_NAME } from "../wallet/fake";

/** Development-only routes (404 in production); each needs an operator key. */
export const dev = new Hono<{ Bindings: Env }>();

dev.use("*", async (c, next) => {
  if (!getConfig(c.env).development) return c.text("Not found", 404);
  await next();
});

async function operatorOf(c: { env: Env; req: { header(name: string): string | undefined } }) {
  const principal = await authenticate(c.env, c.req.header("authorization") ?? null);
  return principal?.kind === "operator" ? principal : null;
}

function unauthorized(): Response {
  return Response.json(
    { error: "unauthorized", message: "Send Authorization: Bearer <operator key>." },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="satchel", error="invalid_token"' } },
  );
}

/** Times reserve+settle cycles inside one AgentLedger for `npm run bench`. */
dev.post("/bench/ledger", async (c) => {
  const principal = await operatorOf(c);
  if (!principal) return unauthorized();
  const body = (await c.req.json().catch(() => ({}))) as { agent_id?: unknown; n?: unknown };
  const n = typeof body.n === "number" && Number.isInteger(body.n) && body.n > 0 && body.n <= 100_000 ? body.n : 1000;
  try {
    const agentId = await resolveAgent(c.env, principal, typeof body.agent_id === "string" ? body.agent_id : undefined);
    const settled = await call(ledgerStub(c.env, agentId).benchmarkReserveSettle(n));
    return c.json({ n, settled });
  } catch (e) {
    return c.json({ error: e instanceof SatchelError ? e.toJSON() : "internal" }, 400);
  }
});

/**
 * Runs an agent's reconciler now, as its alarm would, after moving its clock `skew_ms` ahead (both
 * development only): the e2e tests settle unknown outcomes this way instead of waiting for the alarm.
 */
dev.post("/reconcile", async (c) => {
  const principal = await operatorOf(c);
  if (!principal) return unauthorized();
  const body = (await c.req.json().catch(() => ({}))) as { agent_id?: unknown; skew_ms?: unknown };
  const skew = body.skew_ms;
  if (
    skew !== undefined &&
    !(typeof skew === "number" && Number.isInteger(skew) && skew >= 0 && skew <= 30 * 86_400_000)
  ) {
    return c.json({ error: "skew_ms must be an integer from 0 to 30 days in ms" }, 400);
  }
  try {
    const agentId = await resolveAgent(c.env, principal, typeof body.agent_id === "string" ? body.agent_id : undefined);
    const ledger = ledgerStub(c.env, agentId);
    if (skew) await ledger.skewClock(skew);
    return c.json(await ledger.reconcile());
  } catch (e) {
    return c.json({ error: e instanceof SatchelError ? e.toJSON() : "internal" }, 400);
  }
});

/**
 * An invoice from a fake "merchant" node outside every operator's wallet, so a newcomer (and the
 * e2e tests and benchmarks) can pay an external invoice locally.
 */
dev.post("/fake-invoice", async (c) => {
  const principal = await operatorOf(c);
  if (!principal) return unauthorized();
  const body = (await c.req.json().catch(() => ({}))) as { amount_sats?: unknown; description?: unknown };
  const sats = body.amount_sats;
  if (typeof sats !== "number" || !Number.isInteger(sats) || sats < 1 || sats > 100_000_000) {
    return c.json({ error: "amount_sats must be an integer from 1 to 100000000" }, 400);
  }
  const description = typeof body.description === "string" ? body.description.slice(0, 200) : "fake merchant";
  const config = getConfig(c.env);
  const network = c.env.FAKE_LN.get(c.env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
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
  return c.json({ invoice: made.invoice, payment_hash: made.paymentHash });
});
