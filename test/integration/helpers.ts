import { env, runInDurableObject, SELF } from "cloudflare:test";
import { hexToBytes } from "@noble/hashes/utils.js";
import { expect } from "vitest";
import { generateKey } from "../../src/auth/keys";
import type { Principal } from "../../src/auth/principal";
import { newId, random32Hex } from "../../src/ids";
import { flushJournal, ledgerStub } from "../../src/ledger/client";
import type { AgentSnapshot } from "../../src/ledger/views";
import { unwrap, type Result } from "../../src/result";
import { encodeInvoice, type Network } from "../../src/lightning/bolt11";
import { paymentHashOf } from "../../src/lightning/preimage";
import { callTool } from "../../src/mcp/server";
import type { ToolResult } from "../../src/mcp/result";
import { insertApiKey, insertOperator } from "../../src/store/accounts";
import { storedWalletQuery, type StoredWalletRow } from "../../src/wallet/connection";
import { FAKE_NETWORK_NAME } from "../../src/wallet/fake";
import type { FakeMode, NodeRef } from "../../src/wallet/fake-network";

export const START_MSAT = Number(env.FAKE_WALLET_START_SATS) * 1000;
export const fakeNetwork = () => env.FAKE_LN.get(env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
export const nodeOf = (operatorId: string): NodeRef => ({ id: operatorId, startMsat: START_MSAT });
export const MERCHANT: NodeRef = { id: "merchant", startMsat: 0 };

/** A fresh operator with its own API key and fake wallet node: tests never share money state. */
export async function newOperator(): Promise<{ principal: Principal; key: string }> {
  const operatorId = newId("opr");
  await insertOperator(env.DB, { id: operatorId, name: "test operator", createdAt: Date.now() });
  const k = generateKey("operator");
  const keyId = newId("key");
  await insertApiKey(env.DB, {
    id: keyId,
    hash: k.hash,
    prefix: k.prefix,
    operatorId,
    agentId: null,
    createdAt: Date.now(),
  });
  return { principal: { kind: "operator", operatorId, keyId, via: "api_key" }, key: k.key };
}

/** Calls a tool exactly as both MCP transports do (the transport is covered by the e2e tests). */
export function tool(principal: Principal, name: string, args: Record<string, unknown> = {}, session = "test-session") {
  return callTool(env, principal, session, name, args);
}

/** The structured result of a successful call; fails the test with the error text otherwise. */
export function ok<T = Record<string, unknown>>(r: ToolResult): T {
  if (r.isError) throw new Error(`expected success, got ${r.content[0]?.text}`);
  return r.structuredContent as T;
}

/** The error code of a failed call. */
export function codeOf(r: ToolResult): string {
  expect(r.isError, `expected an error, got ${r.content[0]?.text}`).toBe(true);
  return (r.structuredContent as { code: string }).code;
}

export interface Agent {
  agentId: string;
  principal: Principal;
  apiKey: string;
}

/** An operator with one agent; returns the agent principal and id. */
export async function newAgent(op: Principal, args: Record<string, unknown> = {}): Promise<Agent> {
  const created = ok<{ agent_id: string; api_key: string }>(
    await tool(op, "create_agent", { name: "agent", initial_balance_sats: 10_000, ...args }),
  );
  return {
    agentId: created.agent_id,
    apiKey: created.api_key,
    principal: {
      kind: "agent",
      operatorId: op.operatorId,
      agentId: created.agent_id,
      // One credential per agent, as in production: rate limits are per credential.
      keyId: `test_${created.agent_id}`,
      via: "api_key",
    },
  };
}

/**
 * Puts an agent's ledger on the warm NWC path (AgentLedger.payOverWarmNwc) as if the agent had just
 * paid: the ledger is handed the operator's connection as the operator's desk names it.
 */
export async function warmLedger(agentId: string, operatorId: string): Promise<void> {
  const row = await storedWalletQuery(env, operatorId).first<StoredWalletRow>();
  await runInDurableObject(ledgerStub(env, agentId), (instance) => {
    (instance as unknown as { deskWallet: unknown }).deskWallet = { row, readAt: Date.now() };
  });
}

/** An invoice from the external "merchant" node (outside every operator). */
export async function merchantInvoice(
  sats: number,
  opts: { description?: string; nowMs?: number } = {},
): Promise<string> {
  const made = await fakeNetwork().makeInvoice(MERCHANT, {
    amountMsat: sats * 1000,
    description: opts.description ?? "merchant",
    expirySeconds: 3600,
    network: "regtest",
    now: Math.floor((opts.nowMs ?? Date.now()) / 1000),
  });
  return made.invoice;
}

/** A correctly signed invoice with any fields, e.g. expired, zero-amount or for another network. */
export function craftedInvoice(opts: {
  sats?: number;
  network?: Network;
  timestamp?: number;
  expirySeconds?: number;
}): { invoice: string; paymentHash: string } {
  const preimage = random32Hex();
  const paymentHash = paymentHashOf(preimage);
  const invoice = encodeInvoice({
    network: opts.network ?? "regtest",
    ...(opts.sats === undefined ? {} : { amountMsat: opts.sats * 1000 }),
    paymentHash,
    paymentSecret: random32Hex(),
    description: "crafted",
    expirySeconds: opts.expirySeconds ?? 3600,
    timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
    privateKey: hexToBytes(random32Hex()),
  });
  return { invoice, paymentHash };
}

export async function walletBalanceMsat(operatorId: string): Promise<number> {
  return (await fakeNetwork().info(nodeOf(operatorId))).balanceMsat;
}

export async function setMode(operatorId: string, mode: FakeMode): Promise<void> {
  await fakeNetwork().setMode(nodeOf(operatorId), mode);
}

export async function snapshot(agentId: string) {
  return unwrap((await ledgerStub(env, agentId).getSnapshot()) as Result<AgentSnapshot>);
}

/** Journal rows in D1 for one agent, once its ledger has written them all. */
export async function journal(agentId: string) {
  await flushJournal(env, agentId);
  const { results } = await env.DB.prepare("SELECT * FROM transactions WHERE agent_id = ? ORDER BY created_at")
    .bind(agentId)
    .all<{
      id: string;
      direction: string;
      kind: string;
      status: string;
      amount_msat: number;
      fee_msat: number;
      payment_hash: string | null;
    }>();
  return results;
}

/** A raw MCP request over the real Worker entry (stateless Streamable HTTP), with an optional bearer. */
export function mcpPost(
  bearer: string | null,
  method: string,
  params: Record<string, unknown> = {},
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  return SELF.fetch("http://localhost/mcp", {
    method: "POST",
    headers: {
      // SELF.fetch sends no Host header; real clients always do and the MCP handler checks it.
      host: "localhost",
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...extraHeaders,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
}

/** The JSON-RPC message of an MCP response body: plain JSON, or the data of its one SSE event. */
export async function jsonRpcMessage(res: Response): Promise<string> {
  const body = (await res.text()).trim();
  if (body.startsWith("{")) return body;
  return body
    .split(/\r?\n/)
    .filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).trimStart())
    .join("\n");
}

/**
 * Opens a legacy SSE session with a bearer over the real Worker entry. post(bearer) sends a ping to
 * the session's message endpoint with any credential; close() ends the stream.
 */
export async function openSseSession(bearer: string): Promise<{
  sessionId: string;
  post: (bearer: string) => Promise<Response>;
  close: () => Promise<void>;
}> {
  const stream = await SELF.fetch("http://localhost/sse", {
    headers: { authorization: `Bearer ${bearer}`, host: "localhost" },
  });
  expect(stream.status).toBe(200);
  const reader = stream.body!.getReader();
  let text = "";
  while (!text.includes("sessionId=")) text += new TextDecoder().decode((await reader.read()).value);
  const endpoint = new URL(/data: (\S+)/.exec(text)![1]!, "http://localhost");
  return {
    sessionId: endpoint.searchParams.get("sessionId")!,
    post: (as: string) =>
      SELF.fetch(endpoint.toString(), {
        method: "POST",
        headers: { authorization: `Bearer ${as}`, host: "localhost", "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      }),
    close: () => reader.cancel(),
  };
}
