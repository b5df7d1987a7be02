import { McpAgent } from "agents/mcp";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { fromProps } from "../auth/principal";
import { attachToServerV1, serverInfo } from "./server";

/**
 * One legacy HTTP+SSE session (McpAgent is feature-frozen; it stays only for clients that cannot
 * speak Streamable HTTP). Its props are those of the key that opened it; the Worker lets only that
 * key post messages to it (see ownerKeyId).
 */
export class SatchelSseSession extends McpAgent<Env, unknown, Record<string, unknown>> {
  server = new Server(serverInfo.info, { capabilities: { tools: {} }, instructions: serverInfo.instructions });

  /** The key id that opened this session, from the props McpAgent stored when it started. */
  async ownerKeyId(): Promise<string | null> {
    return fromProps(await this.ctx.storage.get<Record<string, unknown>>("props"))?.keyId ?? null;
  }

  async init(): Promise<void> {
    attachToServerV1(this.server, () => ({
      env: this.env,
      principal: fromProps(this.props),
      // An OAuth grant is one connection however often it reconnects: its cap must not reset.
      sessionId:
        fromProps(this.props)?.via === "oauth" ? `key:${fromProps(this.props)!.keyId}` : `sse:${this.getSessionId()}`,
    }));
  }
}
