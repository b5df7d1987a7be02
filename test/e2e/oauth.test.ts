// End to end: the official MCP client's OAuth support against the running server. Discovery →
// dynamic registration → authorize (sign-up with a passkey in Chromium's virtual authenticator) →
// consent with limits → token → tools/list → a paid call → refresh → revoke → 401.
import {
  auth,
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type OAuthTokens,
} from "@modelcontextprotocol/client";
import { describe, expect, inject, it } from "vitest";
import { addVirtualAuthenticator, browserSuite, localhostUrl, screenshot } from "./browser";

const BASE = localhostUrl(inject("satchelUrl"));
const DEV_KEY = inject("satchelDevKey");

/** An MCP client's OAuth state, kept in memory as a desktop client would keep it on disk. */
class TestOAuthProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  discovery: OAuthDiscoveryState | undefined;
  authorizationUrl: URL | undefined;

  constructor(readonly redirect: string) {}

  get redirectUrl(): string {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Satchel e2e MCP client",
      redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "client") this.info = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = "";
    if (scope === "all" || scope === "discovery") this.discovery = undefined;
  }
}

type ToolResult = { isError?: boolean; structuredContent?: Record<string, unknown>; content?: { text?: string }[] };

async function connect(headersOrProvider: Record<string, string> | TestOAuthProvider): Promise<Client> {
  const transport =
    headersOrProvider instanceof TestOAuthProvider
      ? new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { authProvider: headersOrProvider })
      : new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { requestInit: { headers: headersOrProvider } });
  const client = new Client({ name: "satchel-e2e-oauth", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const r = (await client.callTool({ name, arguments: args })) as ToolResult;
  if (r.isError) throw new Error(`${name} failed: ${r.content?.[0]?.text}`);
  return r.structuredContent!;
}

const suite = browserSuite();

describe("OAuth with the official MCP client", () => {
  it("discovers, registers, signs up with a passkey, consents, pays, refreshes and revokes", async () => {
    const provider = new TestOAuthProvider(suite.callback.url);

    // 1. Without a token /mcp answers 401 with the resource metadata URL; the client discovers the
    //    authorization server, registers itself (DCR) and asks us to open the authorization URL.
    await expect(connect(provider)).rejects.toThrow(/unauthorized/i);
    expect(provider.info?.client_id).toBeTruthy();
    expect(provider.discovery?.authorizationServerUrl).toBe(BASE);
    const authorizationUrl = provider.authorizationUrl!;
    expect(authorizationUrl.pathname).toBe("/authorize");
    expect(authorizationUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorizationUrl.searchParams.get("resource")).toBe(BASE);

    // 2. The browser: sign up with a passkey, save the recovery code, consent with limits.
    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    await page.goto(authorizationUrl.toString());
    await page.waitForURL(/\/sign-in\?next=/);
    await page.locator("#lnurl .qr svg").waitFor();
    await screenshot(page, "sign-in");
    await page.getByRole("link", { name: "Create an account with a passkey" }).click();
    await page.waitForURL(/\/sign-up/);
    await page.fill("#name", "E2E operator");
    await page.getByRole("button", { name: "Create account with a passkey" }).click();
    await page.locator("#recovery").waitFor({ state: "visible" });
    const recoveryCode = (await page.textContent("#recovery-code"))!;
    expect(recoveryCode).toMatch(/^[A-Z2-7]{6}(-[A-Z2-7]{6}){3}$/);
    await screenshot(page, "sign-up-recovery-code");
    await page.click("#continue");
    await page.waitForURL(/\/authorize\?/);
    expect(await page.textContent("#client-name")).toBe("Satchel e2e MCP client");
    expect(await page.textContent("#redirect-host")).toBe("127.0.0.1");
    await page.fill("#new_agent_name", "e2e researcher");
    await page.fill("#max_per_payment_sats", "500");
    await page.fill("#daily_limit_sats", "2000");
    await page.fill("#budget_limit_sats", "10000");
    await page.fill("#connection_cap_sats", "1500");
    await page.fill("#allowed_hosts", "api.example.com");
    await screenshot(page, "consent");
    const redirected = suite.callback.next();
    await page.click("#approve");
    const params = await redirected;
    expect(params.get("code")).toBeTruthy();
    expect(params.get("iss")).toBe(BASE);
    await context.close();

    // 3. The client exchanges the code (PKCE) and calls tools as the agent the consent created.
    await new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), { authProvider: provider }).finishAuth(params);
    const firstTokens = provider.saved!;
    expect(firstTokens.access_token).toBeTruthy();
    expect(firstTokens.refresh_token).toBeTruthy();
    const agent = await connect(provider);
    const tools = (await agent.listTools()).tools.map((t) => t.name);
    expect(tools).toContain("pay_invoice");
    expect(tools).not.toContain("create_agent");
    const me = await call(agent, "whoami");
    expect(me).toMatchObject({ kind: "agent", auth: "oauth" });
    const budget = await call(agent, "get_budget_status");
    expect(JSON.stringify(budget)).toContain("500");

    // 4. A paid call. The agent starts empty: a funded agent of another operator (the dev operator)
    //    pays the OAuth agent's invoice over the fake Lightning network, then the agent pays a merchant.
    const dev = await connect({ authorization: `Bearer ${DEV_KEY}` });
    const payer = await call(dev, "create_agent", { name: "e2e payer", initial_balance_sats: 5000 });
    const topUp = await call(agent, "create_invoice", { amount_sats: 1000, description: "top-up" });
    const paidIn = await call(dev, "pay_invoice", { agent_id: payer.agent_id, invoice: topUp.invoice });
    expect(paidIn.status).toBe("succeeded");
    expect((await call(agent, "get_invoice_status", { payment_hash: topUp.payment_hash })).paid).toBe(true);
    const merchant = (await (
      await fetch(`${BASE}/dev/fake-invoice`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ amount_sats: 100, description: "weather API" }),
      })
    ).json()) as { invoice: string };
    const paid = await call(agent, "pay_invoice", { invoice: merchant.invoice });
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 100 });
    // The consent's per-payment limit holds.
    const big = (await (
      await fetch(`${BASE}/dev/fake-invoice`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ amount_sats: 600 }),
      })
    ).json()) as { invoice: string };
    const refused = (await agent.callTool({ name: "pay_invoice", arguments: { invoice: big.invoice } })) as ToolResult;
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent?.code).toBe("AMOUNT_TOO_LARGE");
    await agent.close();
    await dev.close();

    // 5. Refresh: the client's auth() uses the refresh token; the new access token works.
    expect(await auth(provider, { serverUrl: new URL(`${BASE}/mcp`) })).toBe("AUTHORIZED");
    const refreshed = provider.saved!;
    expect(refreshed.access_token).not.toBe(firstTokens.access_token);
    expect(refreshed.refresh_token).not.toBe(firstTokens.refresh_token);
    const again = await connect(provider);
    expect((await call(again, "whoami")).agent_id).toBe(me.agent_id);
    await again.close();
    // The same token on the legacy HTTP+SSE transport.
    const legacy = new Client({ name: "satchel-e2e-oauth-sse", version: "1.0.0" });
    await legacy.connect(new SSEClientTransport(new URL(`${BASE}/sse`), { authProvider: provider }));
    expect((await call(legacy, "whoami")).agent_id).toBe(me.agent_id);
    await legacy.close();

    // 6. Revoke (RFC 7009, at the advertised revocation endpoint): the refresh token ends the grant.
    const metadata = (await (await fetch(`${BASE}/.well-known/oauth-authorization-server`)).json()) as {
      revocation_endpoint: string;
    };
    const revoked = await fetch(metadata.revocation_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        token: refreshed.refresh_token!,
        token_type_hint: "refresh_token",
        client_id: provider.info!.client_id,
      }),
    });
    expect(revoked.status).toBe(200);
    const after = await fetch(`${BASE}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${refreshed.access_token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toMatch(/^Bearer .*resource_metadata=/);
    // The client notices too: its refresh fails and it asks for a new authorization.
    provider.authorizationUrl = undefined;
    await expect(connect(provider)).rejects.toThrow(/unauthorized/i);
    expect(provider.authorizationUrl).toBeDefined();
  });
});
