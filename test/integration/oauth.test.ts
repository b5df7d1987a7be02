// OAuth 2.1 (authorization server + resource server in one Worker), sign-in and consent, driven by
// direct requests against the real Worker entry (SELF.fetch) with a hand-held cookie jar.
import { env, SELF } from "cloudflare:test";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes, randomBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { decodeLnurl } from "../../src/auth/lnurl-auth";
import { oauthHelpers, revokeClientGrant } from "../../src/auth/oauth";
import { listTools } from "../../src/mcp/server";
import { getAgent, setAgentStatus } from "../../src/store/accounts";
import { mcpPost, newAgent, newOperator, ok, openSseSession, tool } from "./helpers";

const ORIGIN = "http://localhost";
const REDIRECT = "http://127.0.0.1:9999/callback";

/** Cookies as a browser would keep them for one site (names and values only). */
class Browser {
  cookies = new Map<string, string>();

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("host", "localhost");
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await SELF.fetch(`${ORIGIN}${path}`, { ...init, headers, redirect: "manual" });
    for (const c of setCookies(res)) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (/Max-Age=0/i.test(c) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  form(path: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

function setCookies(res: Response): string[] {
  const h = res.headers as Headers & { getSetCookie?: () => string[]; getAll?: (n: string) => string[] };
  return h.getSetCookie?.() ?? h.getAll?.("set-cookie") ?? [];
}

/** The value of a hidden input (or data attribute) in a page. */
function field(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page) ?? new RegExp(`data-${name}="([^"]*)"`).exec(page);
  if (!m) throw new Error(`no ${name} in page`);
  return m[1]!;
}

/** A browser signed in with the development sign-in (development mode only). */
async function devSignedIn(): Promise<Browser> {
  const b = new Browser();
  const page = await (await b.fetch("/sign-in")).text();
  const res = await b.form("/auth/dev", { csrf: field(page, "csrf"), next: "/" });
  expect(res.status).toBe(303);
  expect(b.cookies.has("satchel_session")).toBe(true);
  return b;
}

async function registerClient(overrides: Record<string, unknown> = {}): Promise<{ client_id: string }> {
  const res = await SELF.fetch(`${ORIGIN}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "Test MCP client",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      ...overrides,
    }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = b64url(randomBytes(32));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return { verifier, challenge: b64url(digest) };
}

function authorizeUrl(clientId: string, challenge: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st-123",
    scope: "mcp",
    ...extra,
  });
  return `/authorize?${q}`;
}

function token(body: Record<string, string>): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body).toString(),
  });
}

/** The JSON-RPC result of an MCP response (JSON or one SSE event). */
async function rpcResult<T>(res: Response): Promise<T> {
  const text = await res.text();
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)![1]!;
  const msg = JSON.parse(json) as { result?: T; error?: unknown };
  if (!msg.result) throw new Error(`MCP error: ${json}`);
  return msg.result;
}

async function toolNames(bearer: string): Promise<string[]> {
  const res = await mcpPost(bearer, "tools/list");
  expect(res.status).toBe(200);
  return (await rpcResult<{ tools: { name: string }[] }>(res)).tools.map((t) => t.name).sort();
}

async function whoami(bearer: string): Promise<Record<string, unknown>> {
  const res = await mcpPost(bearer, "tools/call", { name: "whoami", arguments: {} });
  expect(res.status).toBe(200);
  return (await rpcResult<{ structuredContent: Record<string, unknown> }>(res)).structuredContent;
}

/** Walks the whole authorization code flow for a signed-in browser; returns the code exchange's JSON. */
async function authorize(
  b: Browser,
  fields: Record<string, string> = { agent: "new", new_agent_name: "oauth agent" },
): Promise<{ tokens: { access_token: string; refresh_token: string }; clientId: string; location: URL }> {
  const { client_id } = await registerClient();
  const { verifier, challenge } = await pkce();
  const consentRes = await b.fetch(authorizeUrl(client_id, challenge));
  expect(consentRes.status).toBe(200);
  const consent = await consentRes.text();
  const res = await b.form("/authorize", {
    csrf: field(consent, "csrf"),
    handle: field(consent, "handle"),
    decision: "approve",
    ...fields,
  });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get("state")).toBe("st-123");
  expect(location.searchParams.get("iss")).toBe(ORIGIN);
  const exchanged = await token({
    grant_type: "authorization_code",
    code: location.searchParams.get("code")!,
    redirect_uri: REDIRECT,
    client_id,
    code_verifier: verifier,
  });
  expect(exchanged.status).toBe(200);
  return { tokens: await exchanged.json(), clientId: client_id, location };
}

/** What an agent principal sees, from the tool table itself (new tools need no edit here). */
const AGENT_TOOLS = listTools({ kind: "agent", operatorId: "o", agentId: "a", keyId: "k", via: "oauth" })
  .map((t) => t.name)
  .sort();

describe("discovery", () => {
  it("publishes authorization server and protected resource metadata", async () => {
    const as = await (
      await SELF.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`)
    ).json<Record<string, unknown>>();
    expect(as).toMatchObject({
      issuer: ORIGIN,
      authorization_endpoint: `${ORIGIN}/authorize`,
      token_endpoint: `${ORIGIN}/oauth/token`,
      registration_endpoint: `${ORIGIN}/oauth/register`,
      revocation_endpoint: `${ORIGIN}/oauth/token`,
      code_challenge_methods_supported: ["S256"],
      scopes_supported: ["mcp"],
    });
    expect(as.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
    const pr = await (
      await SELF.fetch(`${ORIGIN}/.well-known/oauth-protected-resource`)
    ).json<Record<string, unknown>>();
    expect(pr).toMatchObject({ resource: ORIGIN, authorization_servers: [ORIGIN] });
  });

  it("answers an unauthenticated /mcp and /sse with a challenge naming the resource metadata", async () => {
    for (const path of ["/mcp", "/sse"]) {
      const res = await SELF.fetch(`${ORIGIN}${path}`, { headers: { host: "localhost" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(
        /^Bearer .*resource_metadata="http:\/\/localhost\/\.well-known\/oauth-protected-resource"/,
      );
    }
  });

  it("keeps /health open", async () => {
    const res = await SELF.fetch(`${ORIGIN}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, service: "satchel" });
  });
});

describe("authorization code flow", () => {
  it("registers a client, signs in, consents, exchanges the code with PKCE and calls tools as the new agent", async () => {
    const b = await devSignedIn();
    const { tokens } = await authorize(b, {
      agent: "new",
      new_agent_name: "researcher",
      max_per_payment_sats: "500",
      daily_limit_sats: "2000",
      budget_limit_sats: "10000",
      connection_cap_sats: "1500",
      allowed_hosts: "api.example.com, *.Example.org",
    });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    expect(await toolNames(tokens.access_token)).toEqual(AGENT_TOOLS);
    const me = await whoami(tokens.access_token);
    expect(me).toMatchObject({ kind: "agent", operator_id: "opr_dev", auth: "oauth" });
    const agentId = me.agent_id as string;
    const agent = await getAgent(env.DB, "opr_dev", agentId);
    expect(agent?.name).toBe("researcher");
    // The limits from the consent page are the agent's.
    const budget = ok<Record<string, unknown>>(
      await tool({ kind: "agent", operatorId: "opr_dev", agentId, keyId: "t", via: "api_key" }, "get_budget_status"),
    );
    expect(JSON.stringify(budget)).toContain("500");
    // The grant's props are exactly the agent principal, with the connection cap.
    const unwrapped = await oauthHelpers(env, ORIGIN)!.unwrapToken<Record<string, unknown>>(tokens.access_token);
    expect(unwrapped!.grant.props).toEqual({
      kind: "agent",
      via: "oauth",
      operatorId: "opr_dev",
      agentId,
      keyId: `grant:${unwrapped!.grantId}`,
      connectionCapSats: 1500,
    });
  });

  it("binds the token to an existing agent chosen on the consent page", async () => {
    const b = await devSignedIn();
    const { principal: devOp } = {
      principal: { kind: "operator" as const, operatorId: "opr_dev", keyId: "dev", via: "dev_key" as const },
    };
    const existing = await newAgent(devOp, { name: "existing one" });
    const { tokens } = await authorize(b, { agent: existing.agentId, daily_limit_sats: "777" });
    const me = await whoami(tokens.access_token);
    expect(me.agent_id).toBe(existing.agentId);
  });

  it("refreshes, rotates refresh tokens (a stolen old one is refused) and revokes", async () => {
    const b = await devSignedIn();
    const { tokens, clientId } = await authorize(b);
    const r1 = tokens.refresh_token;
    const second = await token({ grant_type: "refresh_token", refresh_token: r1, client_id: clientId });
    expect(second.status).toBe(200);
    const t2 = await second.json<{ access_token: string; refresh_token: string }>();
    expect(t2.refresh_token).not.toBe(r1);
    expect(await toolNames(t2.access_token)).toEqual(AGENT_TOOLS);
    // Using the new refresh token retires the old one for good.
    const third = await token({ grant_type: "refresh_token", refresh_token: t2.refresh_token, client_id: clientId });
    expect(third.status).toBe(200);
    const t3 = await third.json<{ access_token: string; refresh_token: string }>();
    const stolen = await token({ grant_type: "refresh_token", refresh_token: r1, client_id: clientId });
    expect(stolen.status).toBe(400);
    expect(await stolen.json()).toMatchObject({ error: "invalid_grant" });
    // Revocation (RFC 7009): revoking an access token ends that token at once.
    const revoke = (value: string, hint: string) =>
      SELF.fetch(`${ORIGIN}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: value, token_type_hint: hint, client_id: clientId }).toString(),
      });
    expect((await revoke(t3.access_token, "access_token")).status).toBe(200);
    const after = await mcpPost(t3.access_token, "tools/list");
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toMatch(/^Bearer .*invalid_token/);
    // Revoking the refresh token ends the whole grant: every token of it, and any further refresh.
    const fourth = await token({ grant_type: "refresh_token", refresh_token: t3.refresh_token, client_id: clientId });
    const t4 = await fourth.json<{ access_token: string; refresh_token: string }>();
    expect(await toolNames(t4.access_token)).toEqual(AGENT_TOOLS);
    expect((await revoke(t4.refresh_token, "refresh_token")).status).toBe(200);
    expect((await mcpPost(t4.access_token, "tools/list")).status).toBe(401);
    const refreshAfter = await token({
      grant_type: "refresh_token",
      refresh_token: t4.refresh_token,
      client_id: clientId,
    });
    expect(refreshAfter.status).toBe(400);
  });

  it("stops a grant's tokens when its agent is disabled", async () => {
    const b = await devSignedIn();
    const { tokens, clientId } = await authorize(b);
    const agentId = (await whoami(tokens.access_token)).agent_id as string;
    await setAgentStatus(env.DB, agentId, "disabled");
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
    // A refresh for a disabled agent fails, and ends the grant for good.
    const refresh = await token({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: clientId,
    });
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: "invalid_grant" });
    await setAgentStatus(env.DB, agentId, "active");
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
  });

  it("refuses a redirect_uri the client did not register, without redirecting", async () => {
    const b = await devSignedIn();
    const { client_id } = await registerClient();
    const { challenge } = await pkce();
    for (const redirect of ["https://evil.example/callback", "http://127.0.0.1:9999/other", `${REDIRECT}/../x`]) {
      const res = await b.fetch(authorizeUrl(client_id, challenge, { redirect_uri: redirect }));
      expect(res.status, redirect).toBe(400);
      expect(res.headers.get("location")).toBeNull();
    }
    // An unknown client is refused the same way.
    const unknown = await b.fetch(authorizeUrl("no-such-client", challenge));
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("location")).toBeNull();
  });

  it("sends the client access_denied when the operator denies", async () => {
    const b = await devSignedIn();
    const { client_id } = await registerClient();
    const { challenge } = await pkce();
    const consent = await (await b.fetch(authorizeUrl(client_id, challenge))).text();
    const res = await b.form("/authorize", {
      csrf: field(consent, "csrf"),
      handle: field(consent, "handle"),
      decision: "deny",
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("st-123");
    expect(location.searchParams.get("code")).toBeNull();
  });

  it("requires the CSRF token on the consent form and on sign-in forms", async () => {
    const b = await devSignedIn();
    const { client_id } = await registerClient();
    const { challenge } = await pkce();
    const consent = await (await b.fetch(authorizeUrl(client_id, challenge))).text();
    const handle = field(consent, "handle");
    for (const csrf of [undefined, "0".repeat(64)]) {
      const res = await b.form("/authorize", {
        ...(csrf ? { csrf } : {}),
        handle,
        decision: "approve",
        agent: "new",
        new_agent_name: "x",
      });
      expect(res.status).toBe(403);
      expect(res.headers.get("location")).toBeNull();
    }
    // The handle was not consumed by the refused posts: the real form still works.
    const res = await b.form("/authorize", {
      csrf: field(consent, "csrf"),
      handle,
      decision: "approve",
      agent: "new",
      new_agent_name: "x",
    });
    expect(res.status).toBe(302);
    // Pre-session forms too.
    const fresh = new Browser();
    await fresh.fetch("/sign-in");
    expect((await fresh.form("/auth/dev", { next: "/" })).status).toBe(403);
    expect((await fresh.form("/recover", { code: "AAAAAA-AAAAAA-AAAAAA-AAAAAA" })).status).toBe(403);
  });

  it("sends a signed-out browser to sign in and back", async () => {
    const { client_id } = await registerClient();
    const { challenge } = await pkce();
    const url = authorizeUrl(client_id, challenge);
    const res = await new Browser().fetch(url);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!, ORIGIN);
    expect(location.pathname).toBe("/sign-in");
    expect(location.searchParams.get("next")).toBe(url);
  });

  it("renders XSS payloads in agent and client names inert, with strict headers", async () => {
    const payload = `<script>alert(1)</script><img src=x onerror="alert(2)">'"`;
    const devOp = { kind: "operator" as const, operatorId: "opr_dev", keyId: "dev", via: "dev_key" as const };
    await newAgent(devOp, { name: payload });
    const b = await devSignedIn();
    const { client_id } = await registerClient({ client_name: payload });
    const { challenge } = await pkce();
    const res = await b.fetch(authorizeUrl(client_id, challenge));
    const page = await res.text();
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<img src=x");
    expect(page).toContain(
      "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&quot;",
    );
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'nonce-[0-9a-f]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    // Chrome applies form-action to the post's redirect: the client's registered origin is allowed, nothing else.
    expect(csp).toContain("form-action 'self' http://127.0.0.1:9999;");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("API keys next to OAuth", () => {
  it("accept API keys on /mcp and an OAuth token on /sse, each bound to its own SSE session", async () => {
    const { principal: op, key: opKey } = await newOperator();
    const agent = await newAgent(op);
    expect((await toolNames(opKey)).length).toBeGreaterThan(AGENT_TOOLS.length);
    expect(await toolNames(agent.apiKey)).toEqual(AGENT_TOOLS);

    const b = await devSignedIn();
    const { tokens } = await authorize(b);
    const { post, close } = await openSseSession(tokens.access_token);
    // Another credential, even of the same operator, cannot post into this session.
    expect((await post(agent.apiKey)).status).toBe(403);
    expect((await post(opKey)).status).toBe(403);
    expect((await post(tokens.access_token)).status).toBeLessThan(300);
    await close();
  });
});

describe("OAuth token cache", () => {
  const devOp = { kind: "operator" as const, operatorId: "opr_dev", keyId: "dev", via: "dev_key" as const };
  const agentStatus = (agentId: string, status: string) =>
    env.DB.prepare("UPDATE agents SET status = ? WHERE id = ?").bind(status, agentId).run();

  it("serves a repeat call with the same principal, without the provider's checks", async () => {
    const { tokens } = await authorize(await devSignedIn());
    const first = await whoami(tokens.access_token);
    expect(first).toMatchObject({ kind: "agent", auth: "oauth" });
    expect(await whoami(tokens.access_token)).toEqual(first);
    // Written straight to D1 (no writer that forgets the cache): the cached token is not re-checked,
    // which shows the second call did not go through the status check. The writers are tested below.
    await agentStatus(first.agent_id as string, "disabled");
    expect(await whoami(tokens.access_token)).toEqual(first);
    await setAgentStatus(env.DB, first.agent_id as string, "active");
  });

  it("adds the provider's CORS headers to a cached call as the provider does", async () => {
    const { tokens } = await authorize(await devSignedIn());
    const cors = (res: Response) =>
      [...res.headers].filter(([name]) => name.startsWith("access-control-") || name === "vary").sort();
    // A browser client on loopback (the MCP handler refuses other origins on a localhost endpoint).
    const browser = { origin: "http://localhost:6274" };
    const viaProvider = await mcpPost(tokens.access_token, "tools/list", {}, browser);
    const cached = await mcpPost(tokens.access_token, "tools/list", {}, browser);
    expect(viaProvider.status).toBe(200);
    expect(cached.status).toBe(200);
    // What the provider adds to the MCP handler's own CORS headers.
    expect(cors(viaProvider)).toContainEqual(["vary", "Origin"]);
    expect(viaProvider.headers.get("access-control-expose-headers")).toContain("WWW-Authenticate");
    expect(cors(cached)).toEqual(cors(viaProvider));
    await Promise.all([viaProvider.arrayBuffer(), cached.arrayBuffer()]);
  });

  it("refuses a cached token at once when its agent is deactivated or deleted (tools and setAgentStatus)", async () => {
    const { tokens } = await authorize(await devSignedIn());
    const agentId = (await whoami(tokens.access_token)).agent_id as string;
    await whoami(tokens.access_token);
    ok(await tool(devOp, "deactivate_agent", { agent_id: agentId }));
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
    // Reactivated: the grant was never revoked, so the token works again (and is cached again).
    ok(await tool(devOp, "reactivate_agent", { agent_id: agentId }));
    expect((await whoami(tokens.access_token)).agent_id).toBe(agentId);
    await whoami(tokens.access_token);
    await setAgentStatus(env.DB, agentId, "disabled");
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
    await setAgentStatus(env.DB, agentId, "active");
    await whoami(tokens.access_token);
    ok(await tool(devOp, "delete_agent", { agent_id: agentId }));
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
  });

  it("refuses a cached token at once when its grant is revoked from the dashboard", async () => {
    const { tokens } = await authorize(await devSignedIn());
    const other = await authorize(await devSignedIn());
    await whoami(tokens.access_token);
    await whoami(other.tokens.access_token);
    const { grantId } = (await oauthHelpers(env, ORIGIN)!.unwrapToken(tokens.access_token))!;
    await revokeClientGrant(env, ORIGIN, grantId, "opr_dev");
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
    // Another grant is untouched (it is only verified by the provider again).
    expect((await mcpPost(other.tokens.access_token, "tools/list")).status).toBe(200);
  });

  it("refuses a cached token at once when the client revokes it (RFC 7009)", async () => {
    const { tokens, clientId } = await authorize(await devSignedIn());
    await whoami(tokens.access_token);
    await whoami(tokens.access_token);
    const revoked = await token({ token: tokens.access_token, token_type_hint: "access_token", client_id: clientId });
    expect(revoked.status).toBe(200);
    expect((await mcpPost(tokens.access_token, "tools/list")).status).toBe(401);
  });

  it("is bound to the origin that verified the token", async () => {
    const { tokens } = await authorize(await devSignedIn());
    await whoami(tokens.access_token);
    const elsewhere = await SELF.fetch("http://127.0.0.1/mcp", {
      method: "POST",
      headers: {
        host: "127.0.0.1",
        authorization: `Bearer ${tokens.access_token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(elsewhere.status).toBe(401);
  });

  it("keeps the SSE session guard: another cached grant cannot post into a session", async () => {
    const { tokens } = await authorize(await devSignedIn());
    const other = await authorize(await devSignedIn());
    await whoami(other.tokens.access_token);
    const { post, close } = await openSseSession(tokens.access_token);
    expect((await post(other.tokens.access_token)).status).toBe(403);
    expect((await post(tokens.access_token)).status).toBeLessThan(300);
    expect((await post(tokens.access_token)).status).toBeLessThan(300);
    await close();
  });
});

/** A wallet's LNURL-auth linking key for this test (LUD-05 would derive it per domain). */
function wallet() {
  const secret = secp256k1.utils.randomSecretKey();
  const key = bytesToHex(secp256k1.getPublicKey(secret, true));
  return {
    key,
    sign: (k1: string) => bytesToHex(secp256k1.sign(hexToBytes(k1), secret, { prehash: false, format: "der" })),
  };
}

async function lnurlPage(b: Browser): Promise<{ page: string; k1: string; callback: URL }> {
  const page = await (await b.fetch("/sign-in?next=%2Fafter")).text();
  const k1 = field(page, "k1");
  const lnurl = /(LNURL1[0-9A-Z]+)/.exec(page)![1]!;
  const callback = new URL(decodeLnurl(lnurl));
  expect(callback.searchParams.get("tag")).toBe("login");
  expect(callback.searchParams.get("k1")).toBe(k1);
  return { page, k1, callback };
}

async function walletCalls(callback: URL, params: Record<string, string>): Promise<Record<string, unknown>> {
  const url = new URL(callback);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await SELF.fetch(url.toString());
  expect(res.status).toBe(200);
  return res.json();
}

describe("LNURL-auth", () => {
  it("signs up with a new linking key (recovery code once), then signs in with it again", async () => {
    const w = wallet();
    const b = new Browser();
    const { page, k1, callback } = await lnurlPage(b);
    expect(page).toContain("<svg");
    const status = async () => (await (await b.fetch(`/auth/lnurl/status?k1=${k1}`)).json<{ state: string }>()).state;
    expect(await status()).toBe("pending");
    expect(await walletCalls(callback, { sig: w.sign(k1), key: w.key })).toEqual({ status: "OK" });
    expect(await status()).toBe("verified");
    // Another browser that saw the k1 on screen cannot finish this sign-in.
    const thief = new Browser();
    const thiefPage = await (await thief.fetch("/sign-in")).text();
    expect((await thief.form("/auth/lnurl/complete", { csrf: field(thiefPage, "csrf"), k1, next: "/" })).status).toBe(
      400,
    );
    const done = await b.form("/auth/lnurl/complete", { csrf: field(page, "csrf"), k1, next: "/after" });
    expect(done.status).toBe(200);
    const welcome = await done.text();
    const code = /id="recovery-code">([A-Z2-7-]+)</.exec(welcome)![1]!;
    expect(code).toMatch(/^[A-Z2-7]{6}(-[A-Z2-7]{6}){3}$/);
    expect(b.cookies.has("satchel_session")).toBe(true);
    const stored = await env.DB.prepare("SELECT code_hash FROM recovery_codes").all();
    expect(JSON.stringify(stored.results)).not.toContain(code.replace(/-/g, ""));
    // The same k1 cannot be used twice.
    expect(await walletCalls(callback, { sig: w.sign(k1), key: w.key })).toMatchObject({ status: "ERROR" });

    // Second sign-in with the same wallet: the same operator, no new recovery code.
    const b2 = new Browser();
    const again = await lnurlPage(b2);
    expect(await walletCalls(again.callback, { sig: w.sign(again.k1), key: w.key })).toEqual({ status: "OK" });
    const res = await b2.form("/auth/lnurl/complete", {
      csrf: field(again.page, "csrf"),
      k1: again.k1,
      next: "/after",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/after");
    const op1 = await env.DB.prepare("SELECT operator_id FROM lnurl_keys WHERE linking_key = ?").bind(w.key).first();
    expect(op1).not.toBeNull();
  });

  it("answers ERROR for a bad signature, an unknown k1, a signature by another key and malformed input", async () => {
    const w = wallet();
    const other = wallet();
    const b = new Browser();
    const { k1, callback } = await lnurlPage(b);
    const sig = w.sign(k1);
    const bad = sig.slice(0, -2) + (sig.endsWith("00") ? "01" : "00");
    expect(await walletCalls(callback, { sig: bad, key: w.key })).toMatchObject({ status: "ERROR" });
    expect(await walletCalls(callback, { sig: other.sign(k1), key: w.key })).toMatchObject({
      status: "ERROR",
      reason: "invalid signature",
    });
    const unknownK1 = bytesToHex(randomBytes(32));
    expect(await walletCalls(callback, { k1: unknownK1, sig: w.sign(unknownK1), key: w.key })).toMatchObject({
      status: "ERROR",
      reason: "unknown k1",
    });
    expect(await walletCalls(callback, { sig: "zz", key: w.key })).toMatchObject({ status: "ERROR" });
    expect(await walletCalls(callback, { sig, key: "04abcd" })).toMatchObject({ status: "ERROR" });
    // Nothing above consumed the ceremony: the right signature still works, once.
    expect(await walletCalls(callback, { sig, key: w.key })).toEqual({ status: "OK" });
    expect(await walletCalls(callback, { sig, key: w.key })).toMatchObject({
      status: "ERROR",
      reason: "k1 already used",
    });
  });
});

describe("recovery", () => {
  it("a recovery code signs in once and is replaced by a new one", async () => {
    const w = wallet();
    const b = new Browser();
    const { page, k1, callback } = await lnurlPage(b);
    await walletCalls(callback, { sig: w.sign(k1), key: w.key });
    const welcome = await (await b.form("/auth/lnurl/complete", { csrf: field(page, "csrf"), k1, next: "/" })).text();
    const code = /id="recovery-code">([A-Z2-7-]+)</.exec(welcome)![1]!;

    const r = new Browser();
    const form = await (await r.fetch("/recover")).text();
    const res = await r.form("/recover", {
      csrf: field(form, "csrf"),
      code: code.toLowerCase().replace(/-/g, " "),
      next: "/",
    });
    expect(res.status).toBe(200);
    const recovered = await res.text();
    expect(r.cookies.has("satchel_session")).toBe(true);
    const newCode = /id="recovery-code">([A-Z2-7-]+)</.exec(recovered)![1]!;
    expect(newCode).not.toBe(code);
    expect(recovered).toContain("Register a passkey");
    const reuse = await r.form("/recover", { csrf: field(form, "csrf"), code, next: "/" });
    expect(reuse.status).toBe(400);
  });
});

describe("an origin that cannot host OAuth (plain http off loopback)", () => {
  it("still accepts API keys and answers 401 without pointing at OAuth metadata", async () => {
    const { key } = await newOperator();
    const post = (bearer: string | null) =>
      SELF.fetch("http://satchel.internal/mcp", {
        method: "POST",
        headers: {
          host: "satchel.internal",
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      });
    expect((await post(key)).status).toBe(200);
    const denied = await post(null);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(denied.headers.get("www-authenticate")).not.toContain("resource_metadata");
    expect((await SELF.fetch("http://satchel.internal/.well-known/oauth-authorization-server")).status).toBe(404);
  });
});

describe("development sign-in", () => {
  it("exists only in development mode", async () => {
    const page = await (await new Browser().fetch("/sign-in")).text();
    expect(page).toContain("Dev sign-in");
    const { app } = await import("../../src/web/app");
    const production = { ...env, SATCHEL_ENV: "production" } as Env;
    const prodPage = await (await app.fetch(new Request(`${ORIGIN}/sign-in`), production)).text();
    expect(prodPage).not.toContain("Dev sign-in");
    const post = await app.fetch(new Request(`${ORIGIN}/auth/dev`, { method: "POST" }), production);
    expect(post.status).toBe(404);
  });
});
