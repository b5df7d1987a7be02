import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashKey } from "../../src/auth/keys";
import { ledgerStub } from "../../src/ledger/client";
import { listTools } from "../../src/mcp/server";
import { setAgentStatus } from "../../src/store/accounts";
import { TEST_DEV_KEY } from "../dev-key";
import { AGENT_TOOLS, EVERYONE_TOOLS, OPERATOR_TOOLS } from "../tool-names";
import { codeOf, mcpPost, merchantInvoice, newAgent, newOperator, ok, openSseSession, tool } from "./helpers";

const [EVERYONE, AGENT, OPERATOR] = [EVERYONE_TOOLS, AGENT_TOOLS, OPERATOR_TOOLS];

/** A raw MCP tools/list over the real Worker entry (stateless Streamable HTTP). */
const mcpList = (key: string | null) => mcpPost(key, "tools/list");

describe("principals and keys", () => {
  it("agents see exactly the agent tools; operators see the operator tools too", async () => {
    const { principal: op } = await newOperator();
    const { principal } = await newAgent(op);
    expect(
      listTools(principal)
        .map((t) => t.name)
        .sort(),
    ).toEqual([...EVERYONE, ...AGENT].sort());
    expect(
      listTools(op)
        .map((t) => t.name)
        .sort(),
    ).toEqual([...EVERYONE, ...AGENT, ...OPERATOR].sort());
    // Operators name the agent; agents never see that argument.
    const pay = (p: typeof op) => listTools(p).find((t) => t.name === "pay_invoice")!.inputSchema;
    expect(pay(op).required).toContain("agent_id");
    expect(JSON.stringify(pay(principal))).not.toContain("agent_id");
  });

  it("an agent cannot call operator tools or act for another agent", async () => {
    const { principal: op } = await newOperator();
    const a = await newAgent(op);
    const b = await newAgent(op);
    expect(codeOf(await tool(a.principal, "create_agent", { name: "x" }))).toBe("NOT_FOUND");
    expect(codeOf(await tool(a.principal, "fund_agent", { agent_id: a.agentId, amount_sats: 5 }))).toBe("NOT_FOUND");
    expect(codeOf(await tool(a.principal, "get_transactions", { agent_id: b.agentId }))).toBe("INVALID_INPUT");
    // Another agent's invoice status is invisible to this agent.
    const inv = ok<{ payment_hash: string }>(await tool(b.principal, "create_invoice", { amount_sats: 5 }));
    expect(codeOf(await tool(a.principal, "get_invoice_status", { payment_hash: inv.payment_hash }))).toBe("NOT_FOUND");
  });

  it("an operator cannot reach another operator's agents", async () => {
    const { principal: a } = await newOperator();
    const { principal: b } = await newOperator();
    const agentOfA = await newAgent(a);
    for (const [name, args] of [
      ["check_balance", {}],
      ["get_transactions", {}],
      ["pay_invoice", { invoice: await merchantInvoice(1) }],
      ["fund_agent", { amount_sats: 1 }],
      ["set_budget", { budget_limit_sats: 1 }],
      ["configure_budget", { per_request: 1 }],
      ["get_payment_history", {}],
    ] as const) {
      expect(codeOf(await tool(b, name, { agent_id: agentOfA.agentId, ...args })), name).toBe("NOT_FOUND");
    }
    const listed = ok<{ agents: unknown[] }>(await tool(b, "list_agents"));
    expect(listed.agents).toEqual([]);
    const history = ok<{ transactions: unknown[] }>(await tool(b, "get_payment_history"));
    expect(history.transactions).toEqual([]);
  });

  it("missing, malformed, unknown and disabled keys get 401 with WWW-Authenticate", async () => {
    const { principal: op, key: opKey } = await newOperator();
    const agent = await newAgent(op);
    expect((await mcpList(opKey)).status).toBe(200);
    expect((await mcpList(agent.apiKey)).status).toBe(200);
    for (const key of [null, "nope", `sat_ag_${"0".repeat(64)}`, agent.apiKey.slice(0, -1) + "x"]) {
      const res = await mcpList(key);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    }
    await setAgentStatus(env.DB, agent.agentId, "disabled");
    expect((await mcpList(agent.apiKey)).status).toBe(401);
    const sse = await SELF.fetch("http://localhost/sse", { headers: { authorization: "Bearer nope" } });
    expect(sse.status).toBe(401);
    expect(sse.headers.get("www-authenticate")).toMatch(/^Bearer /);
  });

  it("a key that just worked (and is cached) stops at once when rotated, and when its agent is deleted", async () => {
    const { principal: op } = await newOperator();
    const agent = await newAgent(op);
    expect((await mcpList(agent.apiKey)).status).toBe(200);
    const { api_key: rotated } = ok<{ api_key: string }>(await tool(op, "rotate_api_key", { agent_id: agent.agentId }));
    expect((await mcpList(agent.apiKey)).status).toBe(401);
    expect((await mcpList(rotated)).status).toBe(200);
    ok(await tool(op, "delete_agent", { agent_id: agent.agentId }));
    expect((await mcpList(rotated)).status).toBe(401);
  });

  it("an SSE session accepts messages only from the key that opened it", async () => {
    const { principal: op, key: opKey } = await newOperator();
    const agent = await newAgent(op);
    const { sessionId, post, close } = await openSseSession(opKey);
    expect((await post(agent.apiKey)).status).toBe(403);
    const tap = await SELF.fetch(`http://localhost/sse?sessionId=${sessionId}`, {
      headers: { authorization: `Bearer ${agent.apiKey}`, host: "localhost" },
    });
    expect(tap.status).toBe(403);
    expect((await post(opKey)).status).toBeLessThan(300);
    await close();
  });

  it("a disabled agent's ledger refuses payments even to a caller holding a principal", async () => {
    const { principal: op } = await newOperator();
    const agent = await newAgent(op);
    await ledgerStub(env, agent.agentId).setStatus("disabled");
    expect(codeOf(await tool(agent.principal, "pay_invoice", { invoice: await merchantInvoice(1) }))).toBe(
      "AGENT_DISABLED",
    );
  });

  it("keys are stored only as SHA-256 hashes", async () => {
    const { principal: op, key: opKey } = await newOperator();
    const agent = await newAgent(op);
    const rows = await env.DB.prepare("SELECT * FROM api_keys WHERE operator_id = ?").bind(op.operatorId).all();
    const dump = JSON.stringify(rows.results);
    expect(dump).not.toContain(opKey);
    expect(dump).not.toContain(agent.apiKey);
    expect(dump).not.toContain(agent.apiKey.slice(7));
    const hashes = rows.results.map((r) => r.key_hash);
    expect(hashes).toContain(hashKey(agent.apiKey));
    expect(hashes).toContain(hashKey(opKey));
  });

  it("the development key works only in development mode", async () => {
    expect((await mcpList(TEST_DEV_KEY)).status).toBe(200);
    const { authenticate } = await import("../../src/auth/authenticate");
    const production = { ...env, SATCHEL_ENV: "production" } as Env;
    expect(await authenticate(production, `Bearer ${TEST_DEV_KEY}`)).toBeNull();
  });
});
