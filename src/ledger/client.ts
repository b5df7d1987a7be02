import { unwrap } from "../result";
import type { AgentLedger } from "./agent-ledger";

/** The AgentLedger Durable Object of one agent (its name is the agent id). */
export function ledgerStub(env: Env, agentId: string): DurableObjectStub<AgentLedger> {
  return env.LEDGER.get(env.LEDGER.idFromName(agentId));
}

/** Awaits a ledger RPC result and rethrows its coded error on this side. */
export async function call<T>(
  r: Promise<{ ok: true; value: T } | { ok: false; error: import("../errors").SerializedError }>,
): Promise<T> {
  return unwrap(await r);
}
