// The operator dashboard (src/web/dashboard.ts) through the real Worker entry (SELF.fetch), with a
// browser session made directly by createSession. Agents pay through callTool, as the MCP transports do.
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dailySpendingByAgent } from "../../src/accounts/dashboard-queries";
import { spendingSeries } from "../../src/accounts/operator";
import { authenticate } from "../../src/auth/authenticate";
import { oauthHelpers } from "../../src/auth/oauth";
import type { Principal } from "../../src/auth/principal";
import { createSession, getSession } from "../../src/auth/session";
import { getAgent, listKeys } from "../../src/store/accounts";
import {
  getWalletConnection,
  readWalletSecret,
  saveWalletConnection,
  validateWalletConnection,
  walletKeyStatus,
} from "../../src/wallet/connection";
import { dashboard } from "../../src/web/dashboard";
import { codeOf, merchantInvoice, newOperator, ok, snapshot, tool } from "./helpers";

const ORIGIN = "http://localhost";
const XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'];
const NWC_SECRET = "a1".repeat(32);
// The relay is a closed loopback port: whatever backend the factory builds for it, nothing leaves this machine.
const NWC_URI = `nostr+walletconnect://${"b2".repeat(32)}?relay=ws%3A%2F%2F127.0.0.1%3A9&secret=${NWC_SECRET}`;
const LNBITS_KEY = "0123456789abcdef0123456789abcdef";
const LNBITS_URL = "http://127.0.0.1:5000";

interface Operator {
  operatorId: string;
  principal: Principal;
  /** The operator's API key (made by newOperator). */
  key: string;
  cookie: string;
  csrf: string;
}

/** A fresh operator signed in to the dashboard (a session made directly, as sign-in would). */
async function signedIn(): Promise<Operator> {
  const { principal, key } = await newOperator();
  const cookie = (await createSession(env, principal.operatorId, false)).split(";")[0]!;
  const session = await getSession(new Request(ORIGIN, { headers: { cookie } }), env);
  return { operatorId: principal.operatorId, principal, key, cookie, csrf: session!.csrf };
}

function get(op: Operator | null, path: string): Promise<Response> {
  const headers = new Headers({ host: "localhost" });
  if (op) headers.set("cookie", op.cookie);
  return SELF.fetch(`${ORIGIN}${path}`, { headers, redirect: "manual" });
}

/** A form POST; the session's CSRF token unless `csrf` says otherwise (null: none at all). */
function post(
  op: Operator | null,
  path: string,
  fields: Record<string, string> = {},
  csrf: string | null | undefined = op?.csrf,
): Promise<Response> {
  const headers = new Headers({ host: "localhost", "content-type": "application/x-www-form-urlencoded" });
  if (op) headers.set("cookie", op.cookie);
  const body = new URLSearchParams(fields);
  if (csrf !== null && csrf !== undefined) body.set("csrf", csrf);
  return SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body: body.toString(), redirect: "manual" });
}

async function page(op: Operator, path: string): Promise<string> {
  const res = await get(op, path);
  expect(res.status, `GET ${path}`).toBe(200);
  return res.text();
}

/** Creates an agent through the dashboard; returns its id and the key shown once. */
async function createAgent(
  op: Operator,
  fields: Record<string, string> = {},
): Promise<{ agentId: string; apiKey: string; html: string }> {
  const res = await post(op, "/agents", { name: "dash agent", initial_balance_sats: "5000", ...fields });
  expect(res.status).toBe(200);
  const html = await res.text();
  const apiKey = /data-testid="new-key">(sat_ag_[0-9a-f]{64})</.exec(html)?.[1];
  const agentId = /href="\/agents\/(agt_[0-9a-f]{24})"/.exec(html)?.[1];
  expect(apiKey, "the new key is on the page").toBeTruthy();
  expect(agentId).toBeTruthy();
  return { agentId: agentId!, apiKey: apiKey!, html };
}

const agentPrincipal = (op: Operator, agentId: string): Principal => ({
  kind: "agent",
  operatorId: op.operatorId,
  agentId,
  keyId: "test",
  via: "api_key",
});

/** An OAuth grant of `op` bound to one agent, made with the provider's own helpers (as consent does). */
async function grantFor(op: Operator, agentId: string, clientName: string): Promise<string> {
  const h = oauthHelpers(env, ORIGIN)!;
  const redirect = "http://127.0.0.1:9999/callback";
  const client = await h.createClient({ redirectUris: [redirect], clientName, tokenEndpointAuthMethod: "none" });
  const q = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: redirect,
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
    scope: "mcp",
    state: "s",
  });
  const request = await h.parseAuthRequest(new Request(`${ORIGIN}/authorize?${q}`));
  await h.completeAuthorization({
    request,
    userId: op.operatorId,
    metadata: {
      agent_id: agentId,
      agent_name: "granted agent",
      client_name: clientName,
      redirect_host: "127.0.0.1:9999",
      connection_cap_sats: null,
    },
    scope: ["mcp"],
    props: { kind: "agent", via: "oauth", operatorId: op.operatorId, agentId },
  });
  const grants = await h.listUserGrants(op.operatorId);
  return grants.items.find((g) => g.clientId === client.clientId)!.id;
}

async function grantIds(op: Operator): Promise<string[]> {
  return (await oauthHelpers(env, ORIGIN)!.listUserGrants(op.operatorId)).items.map((g) => g.id).sort();
}

/** Everything of an operator a dashboard route could change. */
async function stateOf(op: Operator, agentIds: string[]) {
  return {
    agents: await Promise.all(
      agentIds.map(async (id) => ({ record: await getAgent(env.DB, op.operatorId, id), ledger: await snapshot(id) })),
    ),
    keys: await listKeys(env.DB, op.operatorId),
    wallet: await env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?")
      .bind(op.operatorId)
      .first(),
    grants: await grantIds(op),
    agentCount: (
      await env.DB.prepare("SELECT COUNT(*) AS n FROM agents WHERE operator_id = ?").bind(op.operatorId).first<{
        n: number;
      }>()
    )?.n,
  };
}

/** Every route of the dashboard app, as registered: a new route is covered by the loops below. */
function routes(): { method: string; path: string }[] {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of dashboard.routes) seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  return [...seen.values()];
}

/** A route's path with its parameters filled in. Fails on a parameter this test does not know. */
function fill(path: string, params: Record<string, string>): string {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`dashboard route ${path} has parameter :${name}; add it to this test`);
    return v;
  });
}

/** A form that would do something on any route: every field some route reads. */
const EVERY_FIELD = {
  name: "intruder",
  amount_sats: "1",
  initial_balance_sats: "0",
  max_per_payment_sats: "1",
  confirm: "yes",
  back: "overview",
  type: "fake",
};

describe("dashboard: access", () => {
  it("sends a signed-out browser to sign in from every route", async () => {
    for (const r of routes()) {
      const path = fill(r.path, { id: "agt_000000000000000000000000", grantId: "g", keyId: "key_0" });
      const res = r.method === "GET" ? await get(null, path) : await post(null, path, EVERY_FIELD, null);
      expect([302, 303], `${r.method} ${r.path}`).toContain(res.status);
      expect(res.headers.get("location"), `${r.method} ${r.path}`).toMatch(/^\/sign-in(\?next=|$)/);
    }
    const res = await get(null, "/agents/agt_000000000000000000000000");
    expect(res.headers.get("location")).toBe(
      `/sign-in?next=${encodeURIComponent("/agents/agt_000000000000000000000000")}`,
    );
  });

  it("serves pages with strict security headers and a CSRF token in every form", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op);
    for (const path of ["/", `/agents/${agentId}`, "/transactions", "/clients", "/keys", "/wallet"]) {
      const res = await get(op, path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toMatch(/script-src 'nonce-[0-9a-f]{32}'/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const html = await res.text();
      const posts = html.match(/<form method="post"[^>]*>/g) ?? [];
      expect(posts.length, path).toBeGreaterThan(0);
      // Every POST form carries the token (the sign-out form included).
      const tokens = html.match(new RegExp(`name="csrf" value="${op.csrf}"`, "g")) ?? [];
      expect(tokens.length, path).toBe(posts.length);
      expect(html, path).not.toMatch(/ style="/);
    }
  });

  it("refuses every POST without the session's CSRF token (403) and changes nothing", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op);
    const grantId = await grantFor(op, agentId, "csrf client");
    const opKey = (await listKeys(env.DB, op.operatorId)).find((k) => k.agent_id === null)!;
    const before = await stateOf(op, [agentId]);
    const posts = routes().filter((r) => r.method === "POST");
    expect(posts.length).toBeGreaterThanOrEqual(13);
    for (const r of posts) {
      const path = fill(r.path, { id: agentId, grantId, keyId: opKey.id });
      for (const csrf of [null, "", "0".repeat(64), op.csrf.slice(0, -1)]) {
        const res = await post(op, path, EVERY_FIELD, csrf);
        expect(res.status, `${r.path} csrf=${csrf}`).toBe(403);
      }
      // Another session's token is wrong too.
      const other = await signedIn();
      expect((await post(op, path, EVERY_FIELD, other.csrf)).status).toBe(403);
    }
    expect(await stateOf(op, [agentId])).toEqual(before);
  });
});

describe("dashboard: sessions", () => {
  it("a new sign-in deletes the operator's expired sessions and keeps its live ones and other operators'", async () => {
    const op = await signedIn();
    const other = await signedIn();
    const expired = (operatorId: string, tokenHash: string) =>
      env.DB.prepare(
        "INSERT INTO web_sessions (token_hash, operator_id, csrf_token, created_at, expires_at) VALUES (?, ?, 'x', 1, 2)",
      )
        .bind(tokenHash, operatorId)
        .run();
    await expired(op.operatorId, "e".repeat(64));
    await expired(other.operatorId, "f".repeat(64));
    const count = async (operatorId: string) =>
      (
        await env.DB.prepare("SELECT token_hash, expires_at FROM web_sessions WHERE operator_id = ?")
          .bind(operatorId)
          .all<{ token_hash: string; expires_at: number }>()
      ).results;
    expect(await count(op.operatorId)).toHaveLength(2);

    await createSession(env, op.operatorId, false);
    const mine = await count(op.operatorId);
    expect(mine).toHaveLength(2);
    expect(mine.every((r) => r.expires_at > Date.now())).toBe(true);
    // The first session still works; the other operator's expired row waits for its own sign-in.
    expect((await get(op, "/")).status).toBe(200);
    expect(await count(other.operatorId)).toHaveLength(2);
  });
});

describe("dashboard: agents", () => {
  it("creates, edits, funds, sweeps, deactivates, reactivates and deletes an agent; payments obey the edits", async () => {
    const op = await signedIn();
    const { agentId, apiKey } = await createAgent(op, { name: "worker bee", daily_limit_sats: "3000" });
    expect(await authenticate(env, `Bearer ${apiKey}`)).toMatchObject({ kind: "agent", agentId });
    let s = await snapshot(agentId);
    expect(s.availableMsat).toBe(5_000_000);
    expect(s.policy.dailyLimitMsat).toBe(3_000_000);
    const agent = agentPrincipal(op, agentId);

    // Edit the budget: the next payment obeys it.
    let res = await post(op, `/agents/${agentId}/budget`, {
      max_per_payment_sats: "100",
      daily_limit_sats: "",
      budget_limit_sats: "4000",
      per_session_limit_sats: "",
      allowed_hosts: "api.example.com\n*.Example.org",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/agents/${agentId}?ok=limits`);
    s = await snapshot(agentId);
    expect(s.policy).toEqual({
      maxPerPaymentMsat: 100_000,
      dailyLimitMsat: null,
      budgetLimitMsat: 4_000_000,
      perSessionLimitMsat: null,
      allowedHosts: ["api.example.com", "*.example.org"],
    });
    expect(codeOf(await tool(agent, "pay_invoice", { invoice: await merchantInvoice(150) }))).toBe("AMOUNT_TOO_LARGE");
    ok(await tool(agent, "pay_invoice", { invoice: await merchantInvoice(100) }));
    const detail = await page(op, `/agents/${agentId}?ok=limits`);
    expect(detail).toContain("Limits saved");
    expect(detail).toContain('value="100"');

    // A refused edit keeps what was typed and changes nothing.
    res = await post(op, `/agents/${agentId}/budget`, { max_per_payment_sats: "-5" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Max per payment must be a whole number");
    expect((await snapshot(agentId)).policy.maxPerPaymentMsat).toBe(100_000);

    // Fund and sweep.
    const available = (await snapshot(agentId)).availableMsat;
    expect((await post(op, `/agents/${agentId}/fund`, { amount_sats: "1000" })).status).toBe(303);
    expect((await snapshot(agentId)).availableMsat).toBe(available + 1_000_000);
    expect((await post(op, `/agents/${agentId}/sweep`, { amount_sats: "500" })).status).toBe(303);
    expect((await snapshot(agentId)).availableMsat).toBe(available + 500_000);
    res = await post(op, `/agents/${agentId}/fund`, { amount_sats: "999999999999" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not yet given to agents");

    // Kill switch: payments refused and the key stops working; reactivation restores both.
    res = await post(op, `/agents/${agentId}/deactivate`, { back: "overview" });
    expect(res.headers.get("location")).toBe("/?ok=deactivated");
    expect(codeOf(await tool(agent, "pay_invoice", { invoice: await merchantInvoice(10) }))).toBe("AGENT_DISABLED");
    expect(await authenticate(env, `Bearer ${apiKey}`)).toBeNull();
    expect(await page(op, "/?ok=deactivated")).toContain("Agent deactivated");
    expect((await post(op, `/agents/${agentId}/reactivate`)).headers.get("location")).toBe(
      `/agents/${agentId}?ok=reactivated`,
    );
    ok(await tool(agent, "pay_invoice", { invoice: await merchantInvoice(10) }));
    expect(await authenticate(env, `Bearer ${apiKey}`)).not.toBeNull();

    // Rotate its key: the old one stops working, the new one is shown once.
    res = await post(op, `/agents/${agentId}/rotate-key`);
    expect(res.status).toBe(200);
    const newKey = /data-testid="new-key">(sat_ag_[0-9a-f]{64})</.exec(await res.text())![1]!;
    expect(await authenticate(env, `Bearer ${apiKey}`)).toBeNull();
    expect(await authenticate(env, `Bearer ${newKey}`)).toMatchObject({ agentId });
    expect(await page(op, `/agents/${agentId}`)).not.toContain(newKey);

    // Delete needs the confirmation; then the balance returns and the keys die.
    res = await post(op, `/agents/${agentId}/delete`, {});
    expect(res.status).toBe(400);
    expect(await getAgent(env.DB, op.operatorId, agentId)).not.toBeNull();
    res = await post(op, `/agents/${agentId}/delete`, { confirm: "yes" });
    expect(res.headers.get("location")).toBe("/?ok=deleted");
    expect(await getAgent(env.DB, op.operatorId, agentId)).toBeNull();
    expect((await snapshot(agentId)).availableMsat).toBe(0);
    expect(await authenticate(env, `Bearer ${newKey}`)).toBeNull();
    expect((await get(op, `/agents/${agentId}`)).status).toBe(404);
  });

  it("shows agents with balances and limits, and a 30-day chart that matches spendingSeries", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op, { name: "charted", max_per_payment_sats: "700" });
    ok(await tool(agentPrincipal(op, agentId), "pay_invoice", { invoice: await merchantInvoice(321) }));
    const overview = await page(op, "/");
    expect(overview).toContain("charted");
    expect(overview).toMatch(/<svg\s+class="spark"/);
    expect(overview).toContain("4,679"); // 5000 − 321
    expect(overview).toContain("700");
    const detail = await page(op, `/agents/${agentId}`);
    const today = new Date().toISOString().slice(0, 10);
    expect(detail).toMatch(/<svg\s+class="chart"/);
    expect(detail).toContain(`<title>${today}: 321 sats</title>`);
    const series = await spendingSeries(env, op.operatorId, agentId, 30);
    expect((await dailySpendingByAgent(env, op.operatorId, 30)).get(agentId)).toEqual(series);
    expect(series.at(-1)).toEqual({ day: today, spentMsat: 321_000 });
  });

  it("keeps what was typed when creating an agent fails, and warns when funding does", async () => {
    const op = await signedIn();
    let res = await post(op, "/agents", { name: "  ", max_per_payment_sats: "12" });
    expect(res.status).toBe(400);
    let html = await res.text();
    expect(html).toContain("name must be 1 to 100 characters");
    expect(html).toContain('value="12"');
    res = await post(op, "/agents", { name: "ok", allowed_hosts: "not a host!" });
    expect(res.status).toBe(400);
    expect((await stateOf(op, [])).agentCount).toBe(0);
    res = await post(op, "/agents", { name: "too rich", initial_balance_sats: "99999999999" });
    expect(res.status).toBe(200);
    html = await res.text();
    expect(html).toContain("created but not funded");
    expect(html).toMatch(/sat_ag_[0-9a-f]{64}/);
  });

  it("renders XSS payloads in agent names, memos and client names as inert text", async () => {
    const op = await signedIn();
    for (const payload of XSS) {
      const { agentId } = await createAgent(op, { name: payload });
      ok(
        await tool(agentPrincipal(op, agentId), "pay_invoice", {
          invoice: await merchantInvoice(5, { description: payload }),
        }),
      );
      await grantFor(op, agentId, payload);
    }
    const { agentId } = await createAgent(op, { name: "plain" });
    const pages = ["/", `/agents/${agentId}`, "/transactions", "/clients", "/keys", "/wallet"];
    const agentIds = [...(await page(op, "/")).matchAll(/data-agent="(agt_[0-9a-f]{24})"/g)].map((m) => m[1]!);
    for (const id of agentIds) pages.push(`/agents/${id}`, `/transactions?agent=${id}`);
    for (const path of pages) {
      const html = await page(op, path);
      for (const payload of XSS) expect(html, path).not.toContain(payload);
      expect(html, path).not.toMatch(/<script>alert|<img src=x/i);
    }
    const all = (await Promise.all(pages.map((p) => page(op, p)))).join("\n");
    expect(all).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(all).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    // The memo reached the transactions table (escaped), and the client list shows the client name.
    expect(await page(op, "/transactions")).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(await page(op, "/clients")).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
  });
});

describe("dashboard: transactions", () => {
  it("filters by agent, direction, status and date", async () => {
    const op = await signedIn();
    const a = await createAgent(op, { name: "alpha" });
    const b = await createAgent(op, { name: "bravo" });
    ok(
      await tool(agentPrincipal(op, a.agentId), "pay_invoice", {
        invoice: await merchantInvoice(11, { description: "memo-alpha" }),
      }),
    );
    ok(
      await tool(agentPrincipal(op, b.agentId), "pay_invoice", {
        invoice: await merchantInvoice(22, { description: "memo-bravo" }),
      }),
    );
    let html = await page(op, "/transactions");
    expect(html).toContain("memo-alpha");
    expect(html).toContain("memo-bravo");
    html = await page(op, `/transactions?agent=${a.agentId}`);
    expect(html).toContain("memo-alpha");
    expect(html).not.toContain("memo-bravo");
    html = await page(op, "/transactions?direction=in");
    expect(html).not.toContain("memo-alpha");
    expect(html).toContain("funding");
    html = await page(op, "/transactions?status=failed");
    expect(html).toContain("No transactions.");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const today = new Date().toISOString().slice(0, 10);
    expect(await page(op, `/transactions?from=${tomorrow}`)).toContain("No transactions.");
    expect(await page(op, `/transactions?from=${today}&to=${today}`)).toContain("memo-bravo");
    // Malformed filters are ignored, never echoed.
    html = await page(op, "/transactions?agent=%3Cscript%3E&status=%22%3E&from=x%3Cy");
    expect(html).toContain("memo-alpha");
    expect(html).not.toContain("<script>");
  });

  it("downloads CSV and JSON as attachments, with spreadsheet formulas defused", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op, { name: "exporter" });
    ok(
      await tool(agentPrincipal(op, agentId), "pay_invoice", {
        invoice: await merchantInvoice(42, { description: '=HYPERLINK("http://evil.example","x")' }),
      }),
    );
    ok(
      await tool(agentPrincipal(op, agentId), "pay_invoice", {
        invoice: await merchantInvoice(7, { description: "@SUM(A1)" }),
      }),
    );
    let res = await get(op, "/transactions.csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="satchel-transactions-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const csv = await res.text();
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,agent_id,direction,kind,status,amount_msat,fee_msat,payment_hash,description,counterparty,host,error_code,created_at,settled_at",
    );
    expect(lines).toHaveLength(4); // funding + two payments
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(csv).toContain(`"'@SUM(A1)"`);
    expect(csv).not.toMatch(/(^|,)"?=HYPERLINK/m);
    expect(csv).toContain('"42000"');

    res = await get(op, `/transactions.json?agent=${agentId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename=".*\.json"$/);
    const rows = (await res.json()) as { agent_id: string; amount_msat: number }[];
    expect(rows.map((r) => r.amount_msat).sort((x, y) => x - y)).toEqual([7000, 42000, 5_000_000]);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(await (await get(op, `/transactions.json?from=${tomorrow}`)).json()).toEqual([]);
    // The download link on the page carries the agent filter.
    expect(await page(op, `/transactions?agent=${agentId}`)).toContain(`href="/transactions.csv?agent=${agentId}"`);
  });
});

describe("dashboard: connected clients and API keys", () => {
  it("lists the operator's OAuth grants and revokes one", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op, { name: "oauth-bound" });
    const grantId = await grantFor(op, agentId, "Claude Desktop");
    const html = await page(op, "/clients");
    expect(html).toContain("Claude Desktop");
    expect(html).toContain(`action="/clients/${grantId}/revoke"`);
    expect(html).toContain("granted agent");
    const res = await post(op, `/clients/${grantId}/revoke`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/clients?ok=revoked");
    expect(await grantIds(op)).toEqual([]);
    expect(await page(op, "/clients?ok=revoked")).toContain("Client disconnected");
    expect((await post(op, `/clients/${grantId}/revoke`)).status).toBe(404);
  });

  it("lists keys by prefix only, issues an operator key and rotates keys", async () => {
    const op = await signedIn();
    const { agentId, apiKey } = await createAgent(op, { name: "keyed" });
    let html = await page(op, "/keys");
    expect(html).toContain(`${op.key.slice(0, 11)}…`);
    expect(html).toContain(`${apiKey.slice(0, 11)}…`);
    expect(html).not.toContain(op.key);
    expect(html).not.toContain(apiKey);
    expect(html).toContain(`action="/agents/${agentId}/rotate-key"`);

    let res = await post(op, "/keys/operator");
    expect(res.status).toBe(200);
    const issued = /data-testid="new-key">(sat_op_[0-9a-f]{64})</.exec(await res.text())![1]!;
    expect(await authenticate(env, `Bearer ${issued}`)).toMatchObject({ kind: "operator", operatorId: op.operatorId });
    expect(await authenticate(env, `Bearer ${op.key}`)).not.toBeNull();

    const old = (await listKeys(env.DB, op.operatorId)).find((k) => k.key_prefix === op.key.slice(0, 11))!;
    res = await post(op, `/keys/${old.id}/rotate`);
    expect(res.status).toBe(200);
    html = await res.text();
    const rotated = /data-testid="new-key">(sat_op_[0-9a-f]{64})</.exec(html)![1]!;
    expect(html).toContain(`${op.key.slice(0, 11)}… no longer works`);
    expect(await authenticate(env, `Bearer ${op.key}`)).toBeNull();
    expect(await authenticate(env, `Bearer ${rotated}`)).toMatchObject({ operatorId: op.operatorId });
    // A revoked key cannot be rotated again; an agent key is rotated on its agent's route.
    expect((await post(op, `/keys/${old.id}/rotate`)).status).toBe(404);
    const agentKey = (await listKeys(env.DB, op.operatorId)).find((k) => k.agent_id === agentId)!;
    expect((await post(op, `/keys/${agentKey.id}/rotate`)).status).toBe(404);
    expect(await authenticate(env, `Bearer ${apiKey}`)).not.toBeNull();
    html = await page(op, "/keys");
    expect(html).toContain("revoked");
  });
});

describe("dashboard: wallet connection", () => {
  const logs: string[] = [];
  /** Requests the Worker sent to the fake LNbits below. */
  const lnbitsRequests: Request[] = [];
  beforeEach(() => {
    logs.length = 0;
    lnbitsRequests.length = 0;
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      });
    }
    // An LNbits on loopback, answered in-process (the Worker runs in this isolate): nothing leaves the machine.
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      if (!req.url.startsWith(`${LNBITS_URL}/`)) return realFetch(input, init);
      lnbitsRequests.push(req);
      if (new URL(req.url).pathname !== "/api/v1/wallet")
        return Response.json({ detail: "Not found" }, { status: 404 });
      if (req.headers.get("x-api-key") !== LNBITS_KEY) {
        return Response.json({ detail: "Invalid key" }, { status: 401 });
      }
      return Response.json({ id: "wallet-1", name: "test wallet", balance: 21_000_000 });
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it("tests an NWC wallet before storing it; a stored secret is encrypted and never shown or logged", async () => {
    const op = await signedIn();
    const { agentId } = await createAgent(op);
    ok(await tool(agentPrincipal(op, agentId), "pay_invoice", { invoice: await merchantInvoice(3) }));
    // The relay is a closed port: the wallet cannot answer, so nothing is saved.
    let res = await post(op, "/wallet", { type: "nwc", nwc_uri: NWC_URI });
    expect(res.status).toBe(400);
    let html = await res.text();
    expect(html).toContain("did not pass the test, so nothing was saved");
    expect(html).not.toContain(NWC_SECRET);
    expect(await getWalletConnection(env, op.operatorId)).toMatchObject({ type: "fake" });

    // Stored (as connect_wallet or a wallet that was online would), it is sealed at rest.
    await saveWalletConnection(env, op.operatorId, { type: "nwc", uri: NWC_URI });
    const row = await env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?")
      .bind(op.operatorId)
      .first<{ wallet_type: string; wallet_secret_enc: string }>();
    expect(row!.wallet_type).toBe("nwc");
    expect(row!.wallet_secret_enc).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(row!.wallet_secret_enc).not.toContain(NWC_SECRET);
    expect(row!.wallet_secret_enc).not.toContain("127.0.0.1");
    expect(await readWalletSecret(env, op.operatorId)).toEqual({ type: "nwc", uri: NWC_URI });
    expect(await getWalletConnection(env, op.operatorId)).toEqual({
      type: "nwc",
      description: "127.0.0.1:9 · wallet b2b2b2…b2b2",
      readable: true,
    });
    expect(await page(op, "/wallet")).toContain("127.0.0.1:9 · wallet b2b2b2…b2b2");
    res = await post(op, "/wallet/test");
    expect(res.status).toBe(200);
    html = await res.text();
    expect(html).toContain("The Nostr Wallet Connect wallet did not answer");
    expect(html).not.toContain(NWC_SECRET);
    // The agents page survives a wallet that does not answer.
    html = await page(op, "/");
    expect(html).toContain("dash agent");
    expect(html).toContain("did not answer, so its balance is unknown");

    for (const path of [
      "/",
      `/agents/${agentId}`,
      "/transactions",
      "/clients",
      "/keys",
      "/wallet",
      "/transactions.csv",
      "/transactions.json",
    ]) {
      const body = await (await get(op, path)).text();
      expect(body, path).not.toContain(NWC_SECRET);
      expect(body, path).not.toContain(`nostr+walletconnect://${"b2".repeat(32)}`);
    }
    expect(logs.join("\n")).not.toContain(NWC_SECRET);
  });

  it("connects LNbits after it answers the test; the key is sealed and opens only for its operator", async () => {
    const op = await signedIn();
    // A wrong key: LNbits refuses, nothing is saved, and neither key is echoed.
    const wrongKey = "f".repeat(32);
    let res = await post(op, "/wallet", { type: "lnbits", lnbits_url: `${LNBITS_URL}/`, lnbits_key: wrongKey });
    expect(res.status).toBe(400);
    let html = await res.text();
    expect(html).toContain("did not pass the test, so nothing was saved");
    expect(html).not.toContain(wrongKey);
    expect(await getWalletConnection(env, op.operatorId)).toMatchObject({ type: "fake" });

    res = await post(op, "/wallet", { type: "lnbits", lnbits_url: `${LNBITS_URL}/`, lnbits_key: LNBITS_KEY });
    expect(res.status).toBe(200);
    html = await res.text();
    expect(html).toContain("Wallet connected");
    expect(html).toContain("The LNbits wallet answered: “LNbits: test wallet” on regtest, balance 21,000 sats.");
    expect(html).not.toContain(LNBITS_KEY);
    expect(lnbitsRequests.at(-1)?.headers.get("x-api-key")).toBe(LNBITS_KEY);
    const row = await env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?")
      .bind(op.operatorId)
      .first<{ wallet_type: string; wallet_secret_enc: string }>();
    expect(row!.wallet_type).toBe("lnbits");
    expect(row!.wallet_secret_enc).not.toContain(LNBITS_KEY);
    expect(await getWalletConnection(env, op.operatorId)).toEqual({
      type: "lnbits",
      description: "127.0.0.1:5000",
      readable: true,
    });
    // Payments now go through it: the agents page shows its balance; "Test connection" asks it again.
    expect(await page(op, "/")).toContain("21,000");
    res = await post(op, "/wallet/test");
    expect(await res.text()).toContain("The LNbits wallet answered");
    expect(await page(op, "/wallet")).not.toContain(LNBITS_KEY);

    // Copied to another operator's row, the ciphertext does not open (it is bound to its operator).
    const other = await signedIn();
    await env.DB.prepare("UPDATE operators SET wallet_type = 'lnbits', wallet_secret_enc = ? WHERE id = ?")
      .bind(row!.wallet_secret_enc, other.operatorId)
      .run();
    expect((await getWalletConnection(env, other.operatorId)).readable).toBe(false);
    await expect(readWalletSecret(env, other.operatorId)).rejects.toThrow();
    expect(await page(other, "/wallet")).not.toContain(LNBITS_KEY);

    // Back to the fake wallet: the secret is forgotten.
    res = await post(op, "/wallet", { type: "fake" });
    expect(res.status).toBe(200);
    html = await res.text();
    expect(html).toContain("Using the built-in fake wallet");
    expect(html).toMatch(/The built-in fake wallet answered: .* balance [\d,]+ sats/);
    expect(
      await env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?")
        .bind(op.operatorId)
        .first(),
    ).toEqual({ wallet_type: "fake", wallet_secret_enc: null });
    expect(logs.join("\n")).not.toContain(LNBITS_KEY);
  });

  it("refuses malformed connections without echoing them or contacting anything, and refuses to store without a key", async () => {
    const op = await signedIn();
    const bad: Record<string, string>[] = [
      { type: "nwc", nwc_uri: `https://example.com/?secret=${NWC_SECRET}` },
      {
        type: "nwc",
        nwc_uri: `nostr+walletconnect://${"b2".repeat(32)}?relay=http%3A%2F%2Frelay.example.com&secret=${NWC_SECRET}`,
      },
      {
        type: "nwc",
        nwc_uri: `nostr+walletconnect://${"b2".repeat(32)}?relay=wss%3A%2F%2Fr.example.com&secret=short${NWC_SECRET.slice(5, 20)}`,
      },
      { type: "nwc", nwc_uri: `nostr+walletconnect://nothex?relay=wss%3A%2F%2Fr.example.com&secret=${NWC_SECRET}` },
      { type: "lnbits", lnbits_url: "http://lnbits.example.com", lnbits_key: LNBITS_KEY },
      { type: "lnbits", lnbits_url: "https://user:pw@lnbits.example.com", lnbits_key: LNBITS_KEY },
      { type: "lnbits", lnbits_url: "https://lnbits.example.com", lnbits_key: `${LNBITS_KEY}<script>` },
      { type: "other" },
    ];
    for (const fields of bad) {
      const res = await post(op, "/wallet", fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      const html = await res.text();
      expect(html).not.toContain(NWC_SECRET);
      expect(html).not.toContain(LNBITS_KEY);
    }
    expect(lnbitsRequests).toEqual([]);
    expect(await getWalletConnection(env, op.operatorId)).toMatchObject({ type: "fake" });
    // Shapes that are fine: https anywhere, http on this machine.
    expect(
      validateWalletConnection({ type: "lnbits", url: "https://lnbits.example.com/", apiKey: LNBITS_KEY }),
    ).toEqual({ type: "lnbits", url: "https://lnbits.example.com", apiKey: LNBITS_KEY });
    expect(
      validateWalletConnection({ type: "lnbits", url: "http://127.0.0.1:5000", apiKey: LNBITS_KEY }),
    ).toMatchObject({
      url: "http://127.0.0.1:5000",
    });

    for (const key of ["", "not base64", btoa("sixteen bytes!!!")]) {
      const noKey = { ...env, WALLET_SECRET_KEY: key } as Env;
      expect(walletKeyStatus(noKey)).toBe(key === "" ? "missing" : "invalid");
      await expect(saveWalletConnection(noKey, op.operatorId, { type: "nwc", uri: NWC_URI })).rejects.toMatchObject({
        code: "WALLET_NOT_CONFIGURED",
      });
      // The fake wallet needs no key.
      await expect(saveWalletConnection(noKey, op.operatorId, { type: "fake" })).resolves.toMatchObject({
        type: "fake",
      });
    }
    expect(walletKeyStatus(env)).toBe("ok");
    expect(logs.join("\n")).not.toContain(NWC_SECRET);
  });

  it("captures the Worker's log lines in this test (so the log assertions above mean something)", async () => {
    await SELF.fetch(`${ORIGIN}/oauth/token`, {
      method: "POST",
      headers: { host: "localhost", "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=nonsense",
    });
    expect(logs.some((l) => l.startsWith("oauth "))).toBe(true);
  });
});

describe("dashboard: tenant isolation", () => {
  it("lets operator A's session neither read nor change operator B's agents, keys, clients or wallet on any route", async () => {
    const a = await signedIn();
    const b = await signedIn();
    const { agentId: bAgent } = await createAgent(b, { name: "bravo-secret-agent" });
    ok(
      await tool(agentPrincipal(b, bAgent), "pay_invoice", {
        invoice: await merchantInvoice(9, { description: "bravo-secret-memo" }),
      }),
    );
    const bGrant = await grantFor(b, bAgent, "bravo-secret-client");
    const bKey = (await listKeys(env.DB, b.operatorId)).find((k) => k.agent_id === null)!;
    await saveWalletConnection(env, b.operatorId, { type: "nwc", uri: NWC_URI });
    const { agentId: aAgent } = await createAgent(a, { name: "alpha agent" });
    const before = await stateOf(b, [bAgent]);
    const secrets = [
      "bravo-secret-agent",
      "bravo-secret-memo",
      "bravo-secret-client",
      bAgent,
      bGrant,
      bKey.id,
      bKey.key_prefix,
      NWC_SECRET,
      "127.0.0.1:9",
    ];

    const all = routes();
    expect(all.length).toBeGreaterThanOrEqual(20);
    for (const r of all) {
      const path = fill(r.path, { id: bAgent, grantId: bGrant, keyId: bKey.id });
      const hasParam = path !== r.path;
      for (const query of ["", `?agent=${bAgent}`]) {
        const res =
          r.method === "GET" ? await get(a, `${path}${query}`) : await post(a, `${path}${query}`, EVERY_FIELD);
        const body = await res.text();
        const label = `${r.method} ${r.path}${query}`;
        if (hasParam) expect(res.status, label).toBe(404);
        else expect(res.status, label).toBeLessThan(500);
        for (const s of secrets) expect(body, `${label} leaks ${s}`).not.toContain(s);
      }
    }
    // A's own agent still works for A: the 404s above were about B's ids, not a broken route.
    expect((await get(a, `/agents/${aAgent}`)).status).toBe(200);
    expect(await stateOf(b, [bAgent])).toEqual(before);
  });
});
