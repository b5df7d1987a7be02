import { Server as ServerV2 } from "@modelcontextprotocol/server";
import type { Server as ServerV1 } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { resolveAgent } from "../accounts/agents";
import type { Principal } from "../auth/principal";
import { limitKey } from "../auth/rate-limit";
import { SatchelError } from "../errors";
import { errorResult, successResult, type ToolResult } from "./result";
import { AgentId } from "./schemas";
import type { ToolDef } from "./tool";
import { VERSION } from "./tools/info";
import { TOOL_TABLE } from "./tools/index";

const SERVER_INFO = { name: "satchel", title: "Satchel Lightning wallet", version: VERSION };
const INSTRUCTIONS =
  "Satchel is a Lightning wallet with hard budgets. Amounts are sats. Check decode_invoice before paying when unsure; " +
  "pay_invoice never pays an invoice twice. PAYMENT_PENDING means the outcome is unknown: do not pay again.";

interface ToolDescriptor {
  name: string;
  title?: string;
  description: string;
  inputSchema: JsonObjectSchema;
  outputSchema: JsonObjectSchema;
  annotations: ToolDef["annotations"];
}

type JsonObjectSchema = { type: "object"; [key: string]: unknown };

interface Bound {
  def: ToolDef;
  input: z.ZodObject;
  descriptor: ToolDescriptor;
}

/** Operators name the agent an agent tool acts for; agents never see that argument. */
function inputFor(def: ToolDef, kind: Principal["kind"]): z.ZodObject {
  if (def.audience !== "agent" || kind !== "operator") return def.input;
  return z.strictObject({ ...def.input.shape, agent_id: AgentId.describe("The agent to act for") });
}

function compact(node: unknown, keep: (key: string, value: unknown) => boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => compact(n, keep));
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    // Property maps hold names, not schema keywords: recurse into each property's schema.
    if (k === "properties" && v && typeof v === "object") {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, compact(sub, keep)]));
    } else if (keep(k, v)) {
      out[k] = compact(v, keep);
    }
  }
  return out;
}

/** Hints equal to the MCP defaults say nothing; leaving them out keeps tools/list small. */
const HINT_DEFAULTS: Record<string, boolean> = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/** The MCP spec gives these hints meaning only when readOnlyHint is false. */
const WRITE_HINTS = new Set(["destructiveHint", "idempotentHint"]);

function withoutDefaults(a: ToolDef["annotations"]): ToolDef["annotations"] {
  return Object.fromEntries(
    Object.entries(a).filter(([k, v]) => HINT_DEFAULTS[k] !== v && !(a.readOnlyHint && WRITE_HINTS.has(k))),
  );
}

/**
 * Inputs keep descriptions and bounds (models need them). additionalProperties: false is left out:
 * callTool refuses unknown arguments with INVALID_INPUT either way. A record's value schema (an
 * object there) stays, since it carries the values' bounds.
 */
function inputSchema(schema: z.ZodObject): JsonObjectSchema {
  const full = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  const keep = (k: string, v: unknown) => k !== "$schema" && (k !== "additionalProperties" || typeof v === "object");
  return { ...(compact(full, keep) as Record<string, unknown>), type: "object" };
}

type JsonSchemaNode = { type?: unknown; enum?: unknown[]; const?: unknown; anyOf?: JsonSchemaNode[] };

/** The closed set of values a field may take (enum or const, null included when nullable), if any. */
function closedValues(node: JsonSchemaNode): JsonSchemaNode | null {
  if (node.const !== undefined) return { const: node.const };
  const nullable =
    node.anyOf?.some((o) => o.type === "null") || (Array.isArray(node.type) && node.type.includes("null"));
  const values = node.enum ?? node.anyOf?.find((o) => o.enum)?.enum;
  return values ? { enum: nullable ? [...values, null] : values } : null;
}

/** What every money-moving answer promises (DESIGN.md §3): typed wherever a tool returns them. */
const PAYMENT_FIELDS = new Set([
  "amount_sats",
  "fee_sats",
  "total_sats",
  "payment_hash",
  "preimage",
  "budget_remaining_sats",
]);

/** A field's JSON type(s) only, e.g. ["string", "null"] for a nullable string. */
function typeOnly(node: JsonSchemaNode): JsonSchemaNode | null {
  const types = node.anyOf ? node.anyOf.map((o) => o.type) : [node.type];
  const flat = [...new Set(types.flat())].filter((t): t is string => typeof t === "string");
  if (flat.length === 0) return null;
  return { type: flat.length === 1 ? flat[0] : flat };
}

/**
 * Output schemas name the fields a caller branches on (those with a closed set of values: a payment's
 * status, a body's type) and, on the tools that move money, the payment's own figures and proof.
 * Every result carries its full JSON in structuredContent and text, while every tools/list pays for
 * each field listed here; a full typed shape of all 18 agent tools alone would take over half the
 * 12 KB that tools/list may use. Other fields are allowed, not listed.
 */
function outputSchema(schema: z.ZodObject): JsonObjectSchema {
  const full = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" });
  const fields = Object.entries((full.properties ?? {}) as Record<string, JsonSchemaNode>);
  const movesMoney = fields.some(([name]) => name === "total_sats");
  const properties: Record<string, JsonSchemaNode> = {};
  for (const [name, node] of fields) {
    const described = closedValues(node) ?? (movesMoney && PAYMENT_FIELDS.has(name) ? typeOnly(node) : null);
    if (described) properties[name] = described;
  }
  return Object.keys(properties).length ? { type: "object", properties } : { type: "object" };
}

function bind(kind: Principal["kind"]): Map<string, Bound> {
  const visible = TOOL_TABLE.filter((t) => t.audience !== "operator" || kind === "operator");
  return new Map(
    visible.map((def) => {
      const input = inputFor(def, kind);
      const descriptor: ToolDescriptor = {
        name: def.name,
        ...(def.title ? { title: def.title } : {}),
        description: def.description,
        inputSchema: inputSchema(input),
        outputSchema: outputSchema(def.output),
        annotations: withoutDefaults(def.annotations),
      };
      return [def.name, { def, input, descriptor }];
    }),
  );
}

/** Built once per isolate: tool lists are the same for every principal of a kind. */
const BOUND: Record<Principal["kind"], Map<string, Bound>> = { agent: bind("agent"), operator: bind("operator") };

/** The tools a principal may see and call, in table order. */
export function listTools(principal: Principal): ToolDescriptor[] {
  return [...BOUND[principal.kind].values()].map((b) => b.descriptor);
}

/** Validates, authorises and runs one tool call; every failure comes back as an isError result. */
export async function callTool(
  env: Env,
  principal: Principal,
  sessionId: string,
  name: string,
  rawArgs: unknown,
): Promise<ToolResult> {
  try {
    await limitKey(env, principal.keyId);
    const bound = BOUND[principal.kind].get(name);
    if (!bound) {
      throw new SatchelError("NOT_FOUND", `Unknown tool: ${name.slice(0, 64)}.`, {
        hint: "tools/list shows the tools you can call.",
      });
    }
    const parsed = bound.input.safeParse(rawArgs ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.join("."), message: i.message }));
      throw new SatchelError(
        "INVALID_INPUT",
        `Invalid arguments: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Check the tool's input schema.", details: { issues } },
      );
    }
    const args = parsed.data as Record<string, unknown>;
    const agentId =
      bound.def.audience === "agent" ? await resolveAgent(env, principal, args.agent_id as string | undefined) : null;
    const out = await bound.def.run({ env, principal, sessionId, agentId }, args);
    return successResult(out as Record<string, unknown>);
  } catch (e) {
    return errorResult(e, name);
  }
}

/** An SDK v2 server for one stateless /mcp request. */
export function createServerV2(env: Env, principal: Principal, sessionId: string): ServerV2 {
  const server = new ServerV2(SERVER_INFO, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler("tools/list", async () => ({ tools: listTools(principal) }));
  server.setRequestHandler("tools/call", async (request) =>
    callTool(env, principal, sessionId, request.params.name, request.params.arguments),
  );
  return server;
}

/** Serves the same tool table on an SDK v1 server (the legacy SSE transport). */
export function attachToServerV1(
  server: ServerV1,
  current: () => { env: Env; principal: Principal | null; sessionId: string },
): void {
  server.registerCapabilities({ tools: {} });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const { principal } = current();
    return { tools: principal ? listTools(principal) : [] };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { env, principal, sessionId } = current();
    if (!principal) return errorResult(new SatchelError("UNAUTHORIZED", "Not authenticated."), request.params.name);
    return callTool(env, principal, sessionId, request.params.name, request.params.arguments);
  });
}

export const serverInfo = { info: SERVER_INFO, instructions: INSTRUCTIONS };
