// The official MCP client as the e2e tests use it: connect with an API key over /mcp, call a tool
// that must succeed (its structuredContent) or must fail (its coded error), close everything at the end.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { expect } from "vitest";

/** A tool's coded error, as every Satchel tool returns it in structuredContent. */
export interface ToolError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/**
 * Clients of one test file, all on `${base()}/mcp` (base is read at connect time, so a server
 * started in beforeAll works); closeAll() ends every one of them.
 */
export function mcpClients(name: string, base: () => string) {
  const open: Client[] = [];
  return {
    get count(): number {
      return open.length;
    },
    async connect(key: string): Promise<Client> {
      const client = new Client({ name, version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${base()}/mcp`), { authProvider: { token: async () => key } }),
      );
      open.push(client);
      return client;
    },
    async closeAll(): Promise<void> {
      await Promise.allSettled(open.map((c) => c.close()));
    },
  };
}

/** Calls a tool that must succeed and returns its structuredContent. */
export async function call<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<T> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.structuredContent ?? r.content)}`);
  expect(r.structuredContent).toBeTypeOf("object");
  return r.structuredContent as T;
}

/** Calls a tool that must fail and returns its coded error, checked for a stable code and a message. */
export async function callError(client: Client, name: string, args: Record<string, unknown>): Promise<ToolError> {
  const r = await client.callTool({ name, arguments: args });
  expect(r.isError, `${name} should fail, got ${JSON.stringify(r.structuredContent)}`).toBe(true);
  const error = r.structuredContent as unknown as ToolError;
  expect(error.code).toMatch(/^[A-Z_]+$/);
  expect(error.message).toBeTypeOf("string");
  expect(error.hint ?? "").toBeTypeOf("string");
  return error;
}
