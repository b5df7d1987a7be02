import { generateKey } from "../auth/keys";
import type { Principal } from "../auth/principal";
import { SatchelError } from "../errors";
import { newId } from "../ids";
import { call, ledgerStub } from "../ledger/client";
import type { BudgetPolicy } from "../ledger/policy";
import type { AgentSnapshot } from "../ledger/views";
import * as accounts from "../store/accounts";

export interface NewAgent {
  agentId: string;
  apiKey: string;
  snapshot: AgentSnapshot;
}

/** Creates an agent with its ledger and its API key (returned once, stored only as a hash). */
export async function createAgent(
  env: Env,
  operatorId: string,
  req: { name: string; policy: BudgetPolicy },
): Promise<NewAgent> {
  const agentId = newId("agt");
  const key = generateKey("agent");
  const ledger = ledgerStub(env, agentId);
  // The ledger exists before the agent row: an agent that can authenticate always has a ledger.
  const snapshot = await call(ledger.init({ agentId, operatorId, name: req.name, policy: req.policy }));
  await accounts.insertAgentWithKey(
    env.DB,
    { id: agentId, operatorId, name: req.name, createdAt: Date.now() },
    { id: newId("key"), hash: key.hash, prefix: key.prefix },
  );
  return { agentId, apiKey: key.key, snapshot };
}

/**
 * The agent a call acts for. Agents act only for themselves; operators must name one of their own
 * agents. Another operator's agent is reported as not found, so ids cannot be probed.
 */
export async function resolveAgent(env: Env, principal: Principal, agentId: string | undefined): Promise<string> {
  if (principal.kind === "agent") {
    if (agentId !== undefined && agentId !== principal.agentId) {
      throw new SatchelError("FORBIDDEN", "An agent can act only for itself.", { hint: "Omit agent_id." });
    }
    return principal.agentId;
  }
  if (agentId === undefined) {
    throw new SatchelError("INVALID_INPUT", "agent_id is required when an operator calls an agent tool.", {
      hint: "list_agents shows your agents' ids.",
    });
  }
  const agent = await accounts.getAgent(env.DB, principal.operatorId, agentId);
  if (!agent) throw new SatchelError("NOT_FOUND", "No such agent.", { hint: "list_agents shows your agents' ids." });
  return agent.id;
}

/** The operator's agents with their ledgers' balances and limits. */
export async function listAgents(
  env: Env,
  operatorId: string,
  page: { limit: number; offset: number },
): Promise<{ record: accounts.AgentRecord; snapshot: AgentSnapshot }[]> {
  const records = await accounts.listAgents(env.DB, operatorId, page.limit, page.offset);
  return Promise.all(
    records.map(async (record) => ({ record, snapshot: await call(ledgerStub(env, record.id).getSnapshot()) })),
  );
}

/** Changes an agent's limits (undefined keeps, null removes). */
export function setBudget(env: Env, agentId: string, patch: Partial<BudgetPolicy>): Promise<AgentSnapshot> {
  return call(ledgerStub(env, agentId).setPolicy(patch));
}
