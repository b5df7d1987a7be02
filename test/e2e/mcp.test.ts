// End to end: a real `wrangler dev` (started by global-setup.ts) driven by the official MCP client
// over Streamable HTTP (/mcp) and legacy HTTP+SSE (/sse), plus plain fetch for the HTTP edges.
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { z } from "zod";
import type { PaymentOutput } from "../../src/mcp/schemas";
import { AGENT_TOOLS, EVERYONE_TOOLS, OPERATOR_TOOLS } from "../tool-names";
import { call, callError } from "./mcp-client";

const BASE = inject("satchelUrl");
const DEV_KEY = inject("satchelDevKey");
/** Well-formed but unknown keys: they pass the shape check and fail the lookup. */
const WRONG_OPERATOR_KEY = `sat_op_${"0".repeat(64)}`;
const WRONG_AGENT_KEY = `sat_ag_${"f".repeat(64)}`;

type Kind = "streamable-http" | "sse";

interface CreatedAgent {
  agent_id: string;
  name: string;
  api_key: string;
  balance_sats: number;
}
interface Balance {
  balance_sats: number;
  reserved_sats: number;
  spendable_sats: number;
  wallet_balance_sats: number;
}
interface Invoice {
  invoice: string;
  payment_hash: string;
  amount_sats: number;
  description: string | null;
  expires_at: string;
}
/** What the money-moving tools answer (their zod output schema). */
type Payment = z.infer<typeof PaymentOutput>;
interface InvoiceStatus {
  status: string;
  paid: boolean;
  amount_sats: number;
  preimage: string | null;
  settled_at: string | null;
  internal: boolean;
}
interface Entry {
  id: string;
  direction: "in" | "out";
  kind: string;
  status: string;
  amount_sats: number;
  fee_sats: number;
  payment_hash: string | null;
  counterparty: string | null;
}
interface JournalEntry extends Entry {
  agent_id: string;
}
interface Actor {
  id: string;
  key: string;
  client: Client;
}

const openClients: Client[] = [];

/** A connected official client; key null sends no Authorization header at all. */
async function connect(kind: Kind, key: string | null): Promise<Client> {
  const options = key === null ? {} : { authProvider: { token: async () => key } };
  const transport =
    kind === "sse"
      ? new SSEClientTransport(new URL(`${BASE}/sse`), options)
      : new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), options);
  const client = new Client({ name: "satchel-e2e", version: "1.0.0" });
  await client.connect(transport);
  openClients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.allSettled(openClients.map((c) => c.close()));
});

/** An invoice from the fake merchant node, outside every operator: an external payment. */
async function merchantInvoice(amountSats: number): Promise<{ invoice: string; payment_hash: string }> {
  const res = await fetch(`${BASE}/dev/fake-invoice`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ amount_sats: amountSats, description: "e2e merchant" }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { invoice: string; payment_hash: string };
}

/** Hex SHA-256 of hex-encoded bytes (Web Crypto, as a Lightning payment hash is computed). */
async function sha256Hex(hex: string): Promise<string> {
  const bytes = new Uint8Array((hex.match(/../g) ?? []).map((b) => parseInt(b, 16)));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function createAgent(kind: Kind, operator: Client, name: string, balanceSats: number): Promise<Actor> {
  const created = await call<CreatedAgent>(operator, "create_agent", { name, initial_balance_sats: balanceSats });
  expect(created.agent_id).toMatch(/^agt_[0-9a-f]{24}$/);
  expect(created.api_key).toMatch(/^sat_ag_/);
  expect(created.balance_sats).toBe(balanceSats);
  return { id: created.agent_id, key: created.api_key, client: await connect(kind, created.api_key) };
}

const balanceOf = (actor: Actor) => call<Balance>(actor.client, "check_balance");
const transactionsOf = async (actor: Actor) =>
  (await call<{ transactions: Entry[] }>(actor.client, "get_transactions", { limit: 200 })).transactions;
const agentCount = async (operator: Client) =>
  (await call<{ agents: unknown[] }>(operator, "list_agents", { limit: 200 })).agents.length;

/**
 * A raw legacy SSE session opened with plain fetch, so tests can post messages into it with any
 * Authorization header. Events are awaited as they arrive; nothing here waits on a clock.
 */
async function openRawSse(key: string, sessionId?: string) {
  const controller = new AbortController();
  const res = await fetch(`${BASE}/sse${sessionId ? `?sessionId=${encodeURIComponent(sessionId)}` : ""}`, {
    headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" },
    signal: controller.signal,
  });
  const events: { event: string; data: string }[] = [];
  const waiting: (() => void)[] = [];
  let ended = false;
  const wake = () => waiting.splice(0).forEach((w) => w());
  if (res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      let buffer = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            events.push({
              event: /^event: (.*)$/m.exec(block)?.[1] ?? "message",
              data: /^data: (.*)$/m.exec(block)?.[1] ?? "",
            });
            wake();
          }
        }
      } catch {
        // aborted by close()
      } finally {
        ended = true;
        wake();
      }
    })();
  }
  async function next(match: (e: { event: string; data: string }) => boolean) {
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (ended) throw new Error(`SSE stream ended; events so far: ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }
  const endpoint = res.status === 200 ? (await next((e) => e.event === "endpoint")).data : "";
  const response = async (id: number) =>
    JSON.parse((await next((e) => e.event === "message" && JSON.parse(e.data).id === id)).data) as {
      result?: Record<string, unknown>;
      error?: unknown;
    };
  return { status: res.status, endpoint, events, response, close: () => controller.abort() };
}

function post(path: string, authorization: string | null, message: unknown): Promise<Response> {
  return fetch(`${BASE}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(authorization === null ? {} : { authorization }),
    },
    body: JSON.stringify(message),
  });
}

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "raw-e2e", version: "1.0.0" } },
};

/** Opens a raw SSE session as the operator and completes the MCP handshake on it. */
async function operatorSseSession() {
  const session = await openRawSse(DEV_KEY);
  expect(session.status).toBe(200);
  expect((await post(session.endpoint, `Bearer ${DEV_KEY}`, INITIALIZE)).status).toBe(202);
  expect((await session.response(1)).result).toBeDefined();
  const initialized = { jsonrpc: "2.0", method: "notifications/initialized" };
  expect((await post(session.endpoint, `Bearer ${DEV_KEY}`, initialized)).status).toBe(202);
  return session;
}

const BAD_AUTHORIZATIONS: [string, string | null][] = [
  ["no Authorization header", null],
  ["an unknown operator key", `Bearer ${WRONG_OPERATOR_KEY}`],
  ["an unknown agent key", `Bearer ${WRONG_AGENT_KEY}`],
  ["the dev key with a typo", `Bearer ${DEV_KEY}x`],
  ["a non-Bearer scheme", `Basic ${btoa(`user:${DEV_KEY}`)}`],
];

function expect401(res: Response, what: string) {
  expect(res.status, what).toBe(401);
  expect(res.headers.get("www-authenticate"), what).toMatch(/^Bearer /);
}

describe.each<{ kind: Kind; path: string }>([
  { kind: "streamable-http", path: "/mcp" },
  { kind: "sse", path: "/sse" },
])("over $kind ($path)", ({ kind }) => {
  let operator: Client;
  let seller: Actor;
  let payer: Actor;

  beforeAll(async () => {
    operator = await connect(kind, DEV_KEY);
    seller = await createAgent(kind, operator, `seller over ${kind}`, 1_000);
    payer = await createAgent(kind, operator, `payer over ${kind}`, 50_000);
  });

  it("lists exactly the agent and everyone tools to an agent, and every tool to an operator", async () => {
    const agentNames = (await payer.client.listTools()).tools.map((t) => t.name).sort();
    expect(agentNames).toEqual([...EVERYONE_TOOLS, ...AGENT_TOOLS].sort());

    const operatorNames = (await operator.listTools()).tools.map((t) => t.name).sort();
    expect(operatorNames).toEqual([...EVERYONE_TOOLS, ...AGENT_TOOLS, ...OPERATOR_TOOLS].sort());
    // Whatever only operators see, an agent can neither see nor call, even blind.
    const operatorOnly = operatorNames.filter((name) => !agentNames.includes(name));
    expect(operatorOnly.sort()).toEqual([...OPERATOR_TOOLS].sort());
    for (const name of operatorOnly) {
      expect((await callError(payer.client, name, {})).code, name).toBe("NOT_FOUND");
    }

    expect(await call(payer.client, "whoami")).toMatchObject({ kind: "agent", agent_id: payer.id });
    expect(await call(operator, "whoami")).toMatchObject({ kind: "operator", agent_id: null });
  });

  it("settles an invoice between two agents of one operator inside Satchel, with a real preimage", async () => {
    const [sellerBefore, payerBefore] = await Promise.all([balanceOf(seller), balanceOf(payer)]);
    const invoice = await call<Invoice>(seller.client, "create_invoice", {
      amount_sats: 250,
      description: `e2e internal ${kind}`,
    });
    expect(invoice.invoice).toMatch(/^lnbcrt/);
    expect(invoice.amount_sats).toBe(250);

    const decoded = await call<{ amount_sats: number; payment_hash: string }>(payer.client, "decode_invoice", {
      invoice: invoice.invoice,
    });
    expect(decoded).toMatchObject({ amount_sats: 250, payment_hash: invoice.payment_hash });

    const paid = await call<Payment>(payer.client, "pay_invoice", { invoice: invoice.invoice });
    expect(paid).toMatchObject({
      status: "succeeded",
      internal: true,
      replayed: false,
      amount_sats: 250,
      fee_sats: 0,
      total_sats: 250,
      payment_hash: invoice.payment_hash,
    });
    expect(paid.preimage).toMatch(/^[0-9a-f]{64}$/);
    expect(await sha256Hex(paid.preimage!)).toBe(invoice.payment_hash);
    expect(paid.budget_remaining_sats).toBe(payerBefore.balance_sats - 250);

    const status = await call<InvoiceStatus>(seller.client, "get_invoice_status", {
      payment_hash: invoice.payment_hash,
    });
    expect(status).toMatchObject({ status: "succeeded", paid: true, amount_sats: 250, internal: true });
    expect(status.preimage).toBe(paid.preimage);
    expect(status.settled_at).not.toBeNull();

    const [sellerAfter, payerAfter] = await Promise.all([balanceOf(seller), balanceOf(payer)]);
    expect(sellerAfter.balance_sats).toBe(sellerBefore.balance_sats + 250);
    expect(payerAfter.balance_sats).toBe(payerBefore.balance_sats - 250);
    expect(payerAfter.reserved_sats).toBe(0);

    const out = (await transactionsOf(payer)).filter((t) => t.payment_hash === invoice.payment_hash);
    expect(out).toEqual([
      expect.objectContaining({ direction: "out", kind: "internal", status: "succeeded", amount_sats: 250 }),
    ]);
    const incoming = (await transactionsOf(seller)).filter((t) => t.payment_hash === invoice.payment_hash);
    expect(incoming).toEqual([
      expect.objectContaining({ direction: "in", status: "succeeded", amount_sats: 250, counterparty: payer.id }),
    ]);

    const history = await call<{ transactions: JournalEntry[] }>(operator, "get_payment_history", { limit: 200 });
    const rows = history.transactions.filter((t) => t.payment_hash === invoice.payment_hash);
    expect(rows).toHaveLength(2);
    expect(rows).toContainEqual(
      expect.objectContaining({ agent_id: payer.id, direction: "out", status: "succeeded", amount_sats: 250 }),
    );
    expect(rows).toContainEqual(
      expect.objectContaining({ agent_id: seller.id, direction: "in", status: "succeeded", amount_sats: 250 }),
    );
    const payerOnly = await call<{ transactions: JournalEntry[] }>(operator, "get_payment_history", {
      agent_id: payer.id,
      direction: "out",
    });
    expect(payerOnly.transactions.map((t) => t.payment_hash)).toContain(invoice.payment_hash);
    expect(payerOnly.transactions.every((t) => t.agent_id === payer.id && t.direction === "out")).toBe(true);
  });

  it("pays an external invoice and reports amount, fee, total, preimage and remaining budget", async () => {
    const merchant = await merchantInvoice(321);
    const before = await balanceOf(payer);
    const paid = await call<Payment>(payer.client, "pay_invoice", { invoice: merchant.invoice });
    expect(paid).toMatchObject({
      status: "succeeded",
      internal: false,
      replayed: false,
      amount_sats: 321,
      payment_hash: merchant.payment_hash,
    });
    expect(paid.fee_sats).toBeGreaterThanOrEqual(0);
    expect(paid.total_sats).toBe(paid.amount_sats + paid.fee_sats);
    expect(await sha256Hex(paid.preimage!)).toBe(merchant.payment_hash);

    const after = await balanceOf(payer);
    expect(after.balance_sats).toBe(before.balance_sats - paid.total_sats);
    expect(after.reserved_sats).toBe(0);
    // No limits are set on this agent, so the remaining budget is its balance.
    expect(paid.budget_remaining_sats).toBe(after.balance_sats);

    const entry = (await transactionsOf(payer)).find((t) => t.payment_hash === merchant.payment_hash);
    expect(entry).toMatchObject({ direction: "out", status: "succeeded", amount_sats: 321, counterparty: null });
    const history = await call<{ transactions: JournalEntry[] }>(operator, "get_payment_history", {
      agent_id: payer.id,
    });
    expect(history.transactions).toContainEqual(
      expect.objectContaining({ payment_hash: merchant.payment_hash, direction: "out", status: "succeeded" }),
    );
  });

  it("replays a repeated idempotency_key and never pays the same invoice twice", async () => {
    const merchant = await merchantInvoice(77);
    const key = `e2e-${crypto.randomUUID()}`;
    const before = await balanceOf(payer);

    const first = await call<Payment>(payer.client, "pay_invoice", { invoice: merchant.invoice, idempotency_key: key });
    expect(first).toMatchObject({ status: "succeeded", replayed: false, amount_sats: 77 });

    const again = await call<Payment>(payer.client, "pay_invoice", { invoice: merchant.invoice, idempotency_key: key });
    expect(again).toMatchObject({
      status: "succeeded",
      replayed: true,
      payment_id: first.payment_id,
      preimage: first.preimage,
      total_sats: first.total_sats,
    });

    const otherKey = await callError(payer.client, "pay_invoice", {
      invoice: merchant.invoice,
      idempotency_key: `${key}-other`,
    });
    expect(otherKey.code).toBe("ALREADY_PAID");
    expect(otherKey.details).toMatchObject({ payment_id: first.payment_id, preimage: first.preimage });
    expect((await callError(payer.client, "pay_invoice", { invoice: merchant.invoice })).code).toBe("ALREADY_PAID");

    const after = await balanceOf(payer);
    expect(after.balance_sats).toBe(before.balance_sats - first.total_sats);
    const entries = (await transactionsOf(payer)).filter((t) => t.payment_hash === merchant.payment_hash);
    expect(entries).toHaveLength(1);
  });

  it("answers bad input with coded errors and debits nothing", async () => {
    const merchant = await merchantInvoice(55);
    const [before, entriesBefore] = await Promise.all([balanceOf(payer), transactionsOf(payer)]);

    const oversized = await callError(payer.client, "pay_invoice", { invoice: `lnbcrt1${"q".repeat(5000)}` });
    expect(oversized.code).toBe("INVALID_INPUT");
    expect(oversized.message).toContain("invoice");

    const negativePay = await callError(payer.client, "pay_invoice", { invoice: merchant.invoice, amount_sats: -5 });
    expect(negativePay.code).toBe("INVALID_INPUT");
    expect(negativePay.message).toContain("amount_sats");
    const negativeInvoice = await callError(payer.client, "create_invoice", { amount_sats: -1 });
    expect(negativeInvoice.code).toBe("INVALID_INPUT");
    const fractional = await callError(payer.client, "pay_invoice", { invoice: merchant.invoice, amount_sats: 1.5 });
    expect(fractional.code).toBe("INVALID_INPUT");

    const unknownField = await callError(payer.client, "pay_invoice", { invoice: merchant.invoice, surprise: true });
    expect(unknownField.code).toBe("INVALID_INPUT");
    expect(unknownField.message).toContain("surprise");
    // Agents never name an agent: agent_id is an unknown field for them.
    const agentId = await callError(payer.client, "pay_invoice", { invoice: merchant.invoice, agent_id: seller.id });
    expect(agentId.code).toBe("INVALID_INPUT");

    const garbage = await callError(payer.client, "pay_invoice", { invoice: "lnbcrt1thisisnotaninvoiceatall" });
    expect(garbage.code).toBe("INVALID_INVOICE");
    expect((await callError(payer.client, "decode_invoice", { invoice: "garbage-garbage" })).code).toBe(
      "INVALID_INVOICE",
    );

    const [after, entriesAfter] = await Promise.all([balanceOf(payer), transactionsOf(payer)]);
    expect(after).toEqual(before);
    expect(entriesAfter).toEqual(entriesBefore);

    // None of the refused calls touched the invoice: it is still payable once.
    const paid = await call<Payment>(payer.client, "pay_invoice", { invoice: merchant.invoice });
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 55, replayed: false });
  });

  it("refuses a missing or wrong key with 401 and WWW-Authenticate, and runs no tool", async () => {
    const agentsBefore = await agentCount(operator);
    const createAgentCall = (id: number) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: "create_agent", arguments: { name: "must not exist", initial_balance_sats: 1 } },
    });

    if (kind === "streamable-http") {
      for (const [what, authorization] of BAD_AUTHORIZATIONS) {
        expect401(await post("/mcp", authorization, INITIALIZE), `initialize with ${what}`);
        expect401(await post("/mcp", authorization, createAgentCall(2)), `tools/call with ${what}`);
      }
    } else {
      const session = await operatorSseSession();
      try {
        for (const [what, authorization] of BAD_AUTHORIZATIONS) {
          const res = await fetch(`${BASE}/sse`, {
            headers: { accept: "text/event-stream", ...(authorization === null ? {} : { authorization }) },
          });
          expect401(res, `GET /sse with ${what}`);
          // Into a live, initialised operator session: the key decides, not the session id.
          expect401(await post(session.endpoint, authorization, createAgentCall(2)), `POST message with ${what}`);
        }
        // The session itself still works, and the refused message never produced a response.
        const listed = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "whoami", arguments: {} } };
        expect((await post(session.endpoint, `Bearer ${DEV_KEY}`, listed)).status).toBe(202);
        expect((await session.response(3)).result).toMatchObject({ structuredContent: { kind: "operator" } });
        const answered = session.events.filter((e) => e.event === "message").map((e) => JSON.parse(e.data).id);
        expect(answered).not.toContain(2);
      } finally {
        session.close();
      }
    }

    await expect(connect(kind, null)).rejects.toThrow();
    await expect(connect(kind, WRONG_OPERATOR_KEY)).rejects.toThrow();
    await expect(connect(kind, WRONG_AGENT_KEY)).rejects.toThrow();

    expect(await agentCount(operator)).toBe(agentsBefore);
  });
});

describe("legacy SSE sessions are bound to the key that opened them", () => {
  let agent: CreatedAgent;

  beforeAll(async () => {
    const operator = await connect("streamable-http", DEV_KEY);
    agent = await call<CreatedAgent>(operator, "create_agent", { name: "session prober" });
  });

  it("refuses a message posted into an operator's session with another key, and runs nothing", async () => {
    const session = await operatorSseSession();
    try {
      const listAgents = {
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "list_agents", arguments: {} },
      };
      expect((await post(session.endpoint, `Bearer ${agent.api_key}`, listAgents)).status).toBe(403);
      // The session still answers its opener, and the refused message produced no response.
      const whoami = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "whoami", arguments: {} } };
      expect((await post(session.endpoint, `Bearer ${DEV_KEY}`, whoami)).status).toBe(202);
      expect((await session.response(3)).result).toMatchObject({ structuredContent: { kind: "operator" } });
      const answered = session.events.filter((e) => e.event === "message").map((e) => JSON.parse(e.data).id);
      expect(answered).not.toContain(2);
    } finally {
      session.close();
    }
  });

  it("refuses a made-up or malformed session id", async () => {
    const ping = { jsonrpc: "2.0", id: 9, method: "ping" };
    for (const sessionId of ["f".repeat(64), "not-a-session", ""]) {
      const res = await post(`/sse/message?sessionId=${sessionId}`, `Bearer ${agent.api_key}`, ping);
      expect(res.status, `sessionId=${sessionId}`).toBe(403);
    }
  });

  it("refuses to attach another key to an operator's session id", async () => {
    const session = await operatorSseSession();
    try {
      const sessionId = new URL(session.endpoint, BASE).searchParams.get("sessionId")!;
      const attached = await openRawSse(agent.api_key, sessionId);
      attached.close();
      expect(attached.status).toBe(403);
    } finally {
      session.close();
    }
  });
});
