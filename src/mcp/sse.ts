import { McpAgent } from "agents/mcp";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { fromProps } from "../auth/principal";
import { attachToServerV1, serverInfo } from "./server";

/**
 * One legacy HTTP+SSE session (McpAgent is feature-frozen; it stays only for clients that cannot
 * speak Streamable HTTP). Props are refreshed from the authenticated request on every message.
 */
export class SatchelSseSession extends McpAgent<Env, unknown, Record<string, unknown>> {
  server = new Server(serverInfo.info, { capabilities: { tools: {} }, instructions: serverInfo.instructions });

  async init(): Promise<void> {
    attachToServerV1(this.server, () => ({
      env: this.env,
      principal: fromProps(this.props),
      sessionId: `sse:${this.getSessionId()}`,
    }));
  }
}
