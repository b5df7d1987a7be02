import { CREDENTIAL_CACHE_TTL_MS, credentialGeneration, forgetCredentials, TtlCache } from "./credential-cache";

/** D1 rows for operators, agents and API keys. */
export interface OperatorRow {
  id: string;
  name: string;
  wallet_type: string;
  created_at: number;
}

export interface AgentRecord {
  id: string;
  operator_id: string;
  name: string;
  status: "active" | "disabled" | "deleted";
  created_at: number;
}

export interface KeyLookup {
  key_id: string;
  operator_id: string;
  agent_id: string | null;
  agent_status: AgentRecord["status"] | null;
}

export async function insertOperator(
  db: D1Database,
  op: { id: string; name: string; createdAt: number },
): Promise<void> {
  await db
    .prepare("INSERT OR IGNORE INTO operators (id, name, created_at) VALUES (?, ?, ?)")
    .bind(op.id, op.name, op.createdAt)
    .run();
}

export async function getOperator(db: D1Database, id: string): Promise<OperatorRow | null> {
  return db
    .prepare("SELECT id, name, wallet_type, created_at FROM operators WHERE id = ?")
    .bind(id)
    .first<OperatorRow>();
}

/** Inserts an agent and its first API key in one batch, so an agent never exists without a key. */
export async function insertAgentWithKey(
  db: D1Database,
  agent: { id: string; operatorId: string; name: string; createdAt: number },
  key: { id: string; hash: string; prefix: string },
): Promise<void> {
  await db.batch([
    db
      .prepare("INSERT INTO agents (id, operator_id, name, status, created_at) VALUES (?, ?, ?, 'active', ?)")
      .bind(agent.id, agent.operatorId, agent.name, agent.createdAt),
    db
      .prepare(
        "INSERT INTO api_keys (id, key_hash, key_prefix, operator_id, agent_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .bind(key.id, key.hash, key.prefix, agent.operatorId, agent.id, agent.createdAt),
  ]);
}

export async function insertApiKey(
  db: D1Database,
  key: { id: string; hash: string; prefix: string; operatorId: string; agentId: string | null; createdAt: number },
): Promise<void> {
  await db
    .prepare(
      "INSERT INTO api_keys (id, key_hash, key_prefix, operator_id, agent_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(key.id, key.hash, key.prefix, key.operatorId, key.agentId, key.createdAt)
    .run();
}

/**
 * Live keys looked up recently in this isolate, by hash (policy: credential-cache.ts). Every writer
 * below that can end a key (revokeKey, revokeAgentKeys, setAgentStatus) forgets the cached
 * credentials, so this isolate stops accepting such a key at once.
 */
const liveKeys = new TtlCache<KeyLookup>();

/** The live (unrevoked) key with this hash, with its agent's status. */
export async function findKeyByHash(db: D1Database, hash: string): Promise<KeyLookup | null> {
  const hit = liveKeys.get(hash);
  if (hit) return hit;
  const since = credentialGeneration();
  const row = await db
    .prepare(
      `SELECT k.id AS key_id, k.operator_id, k.agent_id, a.status AS agent_status
       FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id
       WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    )
    .bind(hash)
    .first<KeyLookup>();
  // Only keys that work are kept: a key created a moment later must not wait for an expiry.
  if (row && (row.agent_id === null || row.agent_status === "active")) {
    liveKeys.set(hash, row, Date.now() + CREDENTIAL_CACHE_TTL_MS, since);
  }
  return row;
}

export async function revokeKey(db: D1Database, keyId: string, at: number): Promise<void> {
  await db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(at, keyId).run();
  forgetCredentials();
}

export async function getAgent(db: D1Database, operatorId: string, agentId: string): Promise<AgentRecord | null> {
  return db
    .prepare(
      "SELECT id, operator_id, name, status, created_at FROM agents WHERE id = ? AND operator_id = ? AND status != 'deleted'",
    )
    .bind(agentId, operatorId)
    .first<AgentRecord>();
}

export async function listAgents(
  db: D1Database,
  operatorId: string,
  limit: number,
  offset: number,
): Promise<AgentRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT id, operator_id, name, status, created_at FROM agents
       WHERE operator_id = ? AND status != 'deleted' ORDER BY created_at, id LIMIT ? OFFSET ?`,
    )
    .bind(operatorId, limit, offset)
    .all<AgentRecord>();
  return results;
}

export async function setAgentStatus(db: D1Database, agentId: string, status: AgentRecord["status"]): Promise<void> {
  await db.prepare("UPDATE agents SET status = ? WHERE id = ?").bind(status, agentId).run();
  forgetCredentials();
}

/** Revokes every live key of an agent (rotation, deletion). */
export async function revokeAgentKeys(db: D1Database, agentId: string, at: number): Promise<void> {
  await db
    .prepare("UPDATE api_keys SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL")
    .bind(at, agentId)
    .run();
  forgetCredentials();
}

export interface KeyRecord {
  id: string;
  key_prefix: string;
  agent_id: string | null;
  created_at: number;
  revoked_at: number | null;
}

/** An operator's keys (its own and its agents'), newest first; never the key itself. */
export async function listKeys(db: D1Database, operatorId: string): Promise<KeyRecord[]> {
  const { results } = await db
    .prepare(
      "SELECT id, key_prefix, agent_id, created_at, revoked_at FROM api_keys WHERE operator_id = ? ORDER BY created_at DESC",
    )
    .bind(operatorId)
    .all<KeyRecord>();
  return results;
}

/** Every agent id of an operator, deleted ones too (their ledgers may still settle payments). */
export async function operatorAgentIds(db: D1Database, operatorId: string): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT id FROM agents WHERE operator_id = ? ORDER BY created_at, id LIMIT 10000")
    .bind(operatorId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}
