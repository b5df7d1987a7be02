import { describe, expect, it } from "vitest";
import { listTools } from "../../src/mcp/server";
import { jsonRpcMessage, mcpPost, newAgent, newOperator } from "./helpers";

/** The budget for an agent's tools/list, as bench/run.mjs measures it: the JSON-RPC message on the wire. */
const MAX_AGENT_TOOLS_LIST_BYTES = 12 * 1024;

const bytes = (s: string) => new TextEncoder().encode(s).length;

/** A raw tools/list over the real Worker entry; returns the JSON-RPC message (plain JSON or one SSE event). */
async function toolsListMessage(key: string): Promise<string> {
  const res = await mcpPost(key, "tools/list");
  expect(res.status).toBe(200);
  return jsonRpcMessage(res);
}

type Schema = Record<string, unknown>;

/** Paths of input properties a model could fill without a bound in the JSON Schema it sees. */
function unbounded(schema: Schema, path: string): string[] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const out: string[] = [];
  for (const [name, p] of Object.entries(props)) {
    const at = `${path}.${name}`;
    const closed = "enum" in p || "const" in p;
    switch (p.type) {
      case "string":
        if (!closed && !("maxLength" in p) && !("pattern" in p)) out.push(at);
        break;
      case "integer":
      case "number":
        if (!("minimum" in p) || !("maximum" in p)) out.push(at);
        break;
      case "array":
        if (!("maxItems" in p)) out.push(at);
        break;
      case "object":
        if (!("maxProperties" in p) && !("properties" in p)) out.push(at);
        out.push(...unbounded(p, at));
        break;
    }
  }
  return out;
}

describe("tools/list", () => {
  it(`an agent's tools/list fits in ${MAX_AGENT_TOOLS_LIST_BYTES} bytes`, async () => {
    const { principal: op } = await newOperator();
    const agent = await newAgent(op);
    const message = await toolsListMessage(agent.apiKey);
    const { result } = JSON.parse(message) as { result: { tools: unknown[] } };
    expect(result.tools.length).toBe(listTools(agent.principal).length);
    expect(bytes(JSON.stringify(result))).toBeLessThanOrEqual(MAX_AGENT_TOOLS_LIST_BYTES);
    expect(bytes(message)).toBeLessThanOrEqual(MAX_AGENT_TOOLS_LIST_BYTES);
  });

  it("every tool keeps a description, bounded input schema, output schema and annotations", async () => {
    const { principal: op } = await newOperator();
    const { principal: agent } = await newAgent(op);
    for (const principal of [agent, op]) {
      for (const t of listTools(principal)) {
        expect(t.description.trim().length, t.name).toBeGreaterThan(20);
        expect(t.inputSchema.type, t.name).toBe("object");
        expect(t.inputSchema.properties, t.name).toBeTypeOf("object");
        expect(t.outputSchema.type, t.name).toBe("object");
        expect(t.annotations, t.name).toBeTypeOf("object");
        expect(unbounded(t.inputSchema, t.name)).toEqual([]);
      }
    }
  });

  it("money-moving tools say what PAYMENT_PENDING means", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    const tools = new Map(listTools(principal).map((t) => [t.name, t]));
    for (const name of ["pay_invoice", "keysend", "pay_lightning_address"]) {
      expect(tools.get(name)!.description, name).toMatch(/PAYMENT_PENDING .*do not (pay|send) again/);
    }
    expect(tools.get("pay_invoice")!.description).toMatch(/never pays the same invoice twice/i);
  });

  it("output schemas keep the closed value sets a caller branches on and, where money moves, its figures and proof", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    const out = (name: string) => listTools(principal).find((t) => t.name === name)!.outputSchema;
    for (const name of ["pay_invoice", "keysend", "pay_lightning_address"]) {
      expect(out(name).properties, name).toEqual({
        status: { enum: ["succeeded", "pending", "failed"] },
        amount_sats: { type: "number" },
        fee_sats: { type: "number" },
        total_sats: { type: "number" },
        payment_hash: { type: ["string", "null"] },
        preimage: { type: ["string", "null"] },
        budget_remaining_sats: { type: "number" },
      });
    }
    expect(out("pay_l402_api").properties).toMatchObject({
      payment_protocol: { enum: ["l402", "x402", "x402-lightning", null] },
    });
  });
});
