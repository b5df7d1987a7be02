import { SatchelError, type SerializedError } from "../errors";
import { unwrap, type Result } from "../result";
import type { AgentLedger, KeysendLedgerRequest, PayRequest } from "./agent-ledger";
import type { PaymentView } from "./views";

/** The AgentLedger Durable Object of one agent (its name is the agent id). */
export function ledgerStub(env: Env, agentId: string): DurableObjectStub<AgentLedger> {
  return env.LEDGER.get(env.LEDGER.idFromName(agentId));
}

/**
 * Waits until the agent's committed entries are in the D1 journal. Payments answer before their
 * journal write lands; a listing of one agent calls this first so it shows what the agent just did.
 */
export function flushJournal(env: Env, agentId: string): Promise<void> {
  return ledgerStub(env, agentId).flushJournal();
}

/** Awaits a ledger RPC result and rethrows its coded error on this side. */
export async function call<T>(r: Promise<{ ok: true; value: T } | { ok: false; error: SerializedError }>): Promise<T> {
  return unwrap(await r);
}

/**
 * Runs a paying ledger call. If the call to the ledger itself breaks (the object was reset
 * mid-payment), the payment may have gone out: report it as pending, never as failed.
 */
async function paying(agentId: string, run: () => Promise<unknown>): Promise<PaymentView> {
  let r: Result<PaymentView>;
  try {
    r = (await run()) as Result<PaymentView>;
  } catch (e) {
    console.warn("ledger call failed during payment", { agentId, error: e instanceof Error ? e.name : "unknown" });
    throw new SatchelError("PAYMENT_PENDING", "The payment's outcome is not known yet.", {
      hint: "Do not pay again. Its outcome will be reconciled; check get_transactions shortly.",
    });
  }
  return unwrap(r);
}

/** Pays an invoice through the agent's ledger (see paying). */
export function payThroughLedger(env: Env, agentId: string, req: PayRequest): Promise<PaymentView> {
  return paying(agentId, () => ledgerStub(env, agentId).pay(req));
}

/** Sends a keysend through the agent's ledger (see paying). */
export function keysendThroughLedger(env: Env, agentId: string, req: KeysendLedgerRequest): Promise<PaymentView> {
  return paying(agentId, () => ledgerStub(env, agentId).keysend(req));
}
