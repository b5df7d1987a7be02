import { getConfig } from "../config";
import { findKeyByHash, insertOperator } from "../store/accounts";
import { hashKey, looksLikeKey, timingSafeEqual } from "./keys";
import type { Principal } from "./principal";

export const DEV_OPERATOR_ID = "opr_dev";

let devOperatorReady = false;

/**
 * Resolves `Authorization: Bearer <key>` to a principal, or null for a missing, malformed, unknown,
 * revoked or disabled key. The development key works only when SATCHEL_ENV is development.
 */
export async function authenticate(env: Env, authorization: string | null): Promise<Principal | null> {
  const match = /^Bearer ([^\s]{1,200})$/.exec(authorization ?? "");
  const key = match?.[1];
  if (!key) return null;
  const config = getConfig(env);
  if (config.devOperatorKey !== undefined && timingSafeEqual(key, config.devOperatorKey)) {
    if (!devOperatorReady) {
      await insertOperator(env.DB, { id: DEV_OPERATOR_ID, name: "Development operator", createdAt: Date.now() });
      devOperatorReady = true;
    }
    return { kind: "operator", operatorId: DEV_OPERATOR_ID, keyId: "dev", via: "dev_key" };
  }
  if (!looksLikeKey(key)) return null;
  const row = await findKeyByHash(env.DB, hashKey(key));
  if (!row) return null;
  if (row.agent_id === null)
    return { kind: "operator", operatorId: row.operator_id, keyId: row.key_id, via: "api_key" };
  if (row.agent_status !== "active") return null;
  return { kind: "agent", operatorId: row.operator_id, agentId: row.agent_id, keyId: row.key_id, via: "api_key" };
}
