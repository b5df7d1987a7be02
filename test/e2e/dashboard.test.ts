// Chromium drives the operator dashboard of the running server (global-setup.ts): dev sign-in, create
// an agent, edit its budget and watch its next payment obey it, the kill switch, the CSV download,
// and revoking a connected OAuth client. The agent pays with its own key over /mcp (raw JSON-RPC).
// Screenshots go to test-results/screenshots/dashboard-*.png.
import { readFileSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { browserSuite, localhostUrl, screenshot, testWallet } from "./browser";
import { labControl } from "../support/nwc/control";

// OAuth and cookies want a name, not an IP: the same loopback server as `localhost`.
const BASE = localhostUrl(inject("satchelUrl"));
const DEV_KEY = inject("satchelDevKey");

interface ToolCall {
  /** HTTP status of the /mcp request. */
  status: number;
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
}

/** One tools/call over Streamable HTTP (stateless /mcp), as any MCP client would send it. */
async function callTool(
  bearer: string,
  name: string,
  args: Record<string, unknown> = {},
  base = BASE,
): Promise<ToolCall> {
  const res = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)![1]!;
  const msg = JSON.parse(json) as { result: { isError?: boolean; structuredContent?: Record<string, unknown> } };
  return { status: res.status, ...msg.result };
}

/** An invoice of the fake "merchant" node (development only, operator key). */
async function merchantInvoice(sats: number, description: string): Promise<string> {
  const res = await fetch(`${BASE}/dev/fake-invoice`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ amount_sats: sats, description }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { invoice: string }).invoice;
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

const suite = browserSuite();

describe("dashboard in Chromium", () => {
  it("creates an agent, edits its budget, kills it, downloads the CSV and revokes a client", async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      // Failed loads are checked below with their URL.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
    });
    page.on("response", (res) => {
      const url = new URL(res.url());
      if (res.status() >= 400 && url.pathname !== "/favicon.ico") pageErrors.push(`${res.status()} ${url.pathname}`);
    });

    // Signed out, the dashboard sends the browser to sign in; the development sign-in brings it back.
    await page.goto(`${BASE}/`);
    await page.waitForURL(/\/sign-in/);
    await page.getByRole("button", { name: "Dev sign-in (development operator)" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    await page.locator("h1", { hasText: "Agents" }).waitFor();

    // Create an agent; its key is shown once.
    const name = `e2e shopper ${Date.now()}`;
    await page.fill("#name", name);
    await page.fill("#initial_balance_sats", "5000");
    await page.getByRole("button", { name: "Create agent" }).click();
    const keyBox = page.locator("[data-testid=new-key]");
    await keyBox.waitFor();
    const apiKey = (await keyBox.textContent())!.trim();
    expect(apiKey).toMatch(/^sat_ag_[0-9a-f]{64}$/);
    await screenshot(page, "dashboard-new-key");
    await page.getByRole("link", { name: "Go to the agent" }).click();
    await page.waitForURL(/\/agents\/agt_[0-9a-f]{24}$/);
    const agentId = new URL(page.url()).pathname.split("/").pop()!;
    expect(await page.textContent("h1")).toContain(name);
    expect(await page.content()).not.toContain(apiKey);

    // The agent pays with its own key.
    let r = await callTool(apiKey, "pay_invoice", { invoice: await merchantInvoice(300, "e2e: before the edit") });
    expect(r.structuredContent).toMatchObject({ status: "succeeded", amount_sats: 300 });

    // Edit the budget in the page: the next payment obeys it.
    await page.reload();
    await page.fill("#max_per_payment_sats", "200");
    await page.fill("#daily_limit_sats", "1000");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.locator(".notice", { hasText: "Limits saved" }).waitFor();
    expect(await page.inputValue("#max_per_payment_sats")).toBe("200");
    r = await callTool(apiKey, "pay_invoice", { invoice: await merchantInvoice(300, "e2e: over the new limit") });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ code: "AMOUNT_TOO_LARGE" });
    r = await callTool(apiKey, "pay_invoice", { invoice: await merchantInvoice(150, "e2e: within the new limit") });
    expect(r.structuredContent).toMatchObject({ status: "succeeded", amount_sats: 150 });
    await page.reload();
    // 300 + 150 spent today: the chart has today's bar and the figures show it.
    const today = new Date().toISOString().slice(0, 10);
    expect(await page.locator("svg.chart rect title").allTextContents()).toContain(`${today}: 450 sats`);
    await screenshot(page, "dashboard-agent");

    // The kill switch: the agent's payments are refused at once.
    await page.locator("[data-testid=kill]").click();
    await page.locator(".notice", { hasText: "Agent deactivated" }).waitFor();
    await screenshot(page, "dashboard-agent-killed");
    r = await callTool(apiKey, "pay_invoice", { invoice: await merchantInvoice(10, "e2e: after the kill switch") });
    expect(r.status).toBe(401);
    r = await callTool(DEV_KEY, "pay_invoice", {
      agent_id: agentId,
      invoice: await merchantInvoice(10, "e2e: operator on behalf"),
    });
    expect(r.structuredContent).toMatchObject({ code: "AGENT_DISABLED" });
    await page.locator("[data-testid=reactivate]").click();
    await page.locator(".notice", { hasText: "Agent reactivated" }).waitFor();
    r = await callTool(apiKey, "pay_invoice", { invoice: await merchantInvoice(20, "e2e: reactivated") });
    expect(r.structuredContent).toMatchObject({ status: "succeeded" });

    // Transactions: filter to this agent and download the CSV.
    await page.getByRole("link", { name: "Transactions", exact: true }).click();
    await page.selectOption("#f-agent", agentId);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/agent=agt_/);
    expect(await page.locator("tbody tr").count()).toBe(4); // funding + three payments
    await screenshot(page, "dashboard-transactions");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=download-csv]")]);
    expect(download.suggestedFilename()).toMatch(/^satchel-transactions-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path())!, "utf8");
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^id,agent_id,direction,kind,status,amount_msat,fee_msat,/);
    expect(lines).toHaveLength(5);
    expect(csv).toContain('"e2e: within the new limit"');
    expect(csv).toContain('"150000"');
    expect(lines.slice(1).every((l) => l.includes(`"${agentId}"`))).toBe(true);

    // A connected client: register, consent in this signed-in browser (binding the agent), get a token.
    const reg = await fetch(`${BASE}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "E2E dashboard client",
        redirect_uris: [suite.callback.url],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      }),
    });
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
    const authorize = new URL(`${BASE}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id,
      redirect_uri: suite.callback.url,
      code_challenge: challenge,
      code_challenge_method: "S256",
      scope: "mcp",
      state: "dash",
      resource: BASE,
    })) {
      authorize.searchParams.set(k, v);
    }
    await page.goto(authorize.toString());
    await page.check(`input[name=agent][value="${agentId}"]`);
    const redirected = suite.callback.next();
    await page.click("#approve");
    const params = await redirected;
    const tokenRes = await fetch(`${BASE}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code")!,
        redirect_uri: suite.callback.url,
        client_id,
        code_verifier: verifier,
        resource: BASE,
      }).toString(),
    });
    expect(tokenRes.status).toBe(200);
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    r = await callTool(access_token, "whoami");
    expect(r.structuredContent).toMatchObject({ kind: "agent", agent_id: agentId });

    // The dashboard lists it; revoking ends its access at once.
    await page.goto(`${BASE}/clients`);
    const row = page.locator("tr", { hasText: "E2E dashboard client" });
    await row.waitFor();
    expect(await row.textContent()).toContain(name);
    await screenshot(page, "dashboard-clients");
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.locator(".notice", { hasText: "Client disconnected" }).waitFor();
    expect(await page.locator("tr", { hasText: "E2E dashboard client" }).count()).toBe(0);
    r = await callTool(access_token, "whoami");
    expect(r.status).toBe(401);

    // The remaining pages, for a person to look at.
    await page.goto(`${BASE}/keys`);
    expect(await page.content()).not.toContain(apiKey);
    await screenshot(page, "dashboard-keys");
    await page.goto(`${BASE}/wallet`);
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.locator("[data-testid=wallet-test]", { hasText: "built-in fake wallet answered" }).waitFor();
    await screenshot(page, "dashboard-wallet");
    await page.goto(`${BASE}/`);
    await page.locator(`tr[data-agent="${agentId}"]`).waitFor();
    await screenshot(page, "dashboard-overview");

    // The CSP let every script and style of the pages run (the copy button's script included).
    expect(pageErrors).toEqual([]);
    await context.close();
  });
  it("connects an NWC wallet (the wallet lab's) after testing it, and the agents' payments go through it", async () => {
    // The wallet tests' server: it has a WALLET_SECRET_KEY. A fresh operator (LNURL-auth), so no other test's wallet moves.
    const W = localhostUrl(inject("walletSatchelUrl"));
    const nwc = await labControl<{ uri: string }>(inject("labUrl"), "nwc_wallet", { startSats: 7000 });
    const secret = new URLSearchParams(nwc.uri.split("?")[1]).get("secret")!;
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${W}/wallet`);
    await page.waitForURL(/\/sign-in\?next=%2Fwallet/);
    expect(await testWallet().login((await page.textContent(".lnurl"))!.trim())).toEqual({ status: "OK" });
    await page.locator("#continue").click();
    await page.waitForURL((url) => url.pathname === "/wallet");

    // A connection that cannot answer is refused and not stored.
    const dead = nwc.uri.replace(/relay=[^&]+/, `relay=${encodeURIComponent("ws://127.0.0.1:9")}`);
    await page.fill("#nwc-uri", dead);
    await page.getByRole("button", { name: "Connect NWC wallet" }).click();
    await page.locator(".error", { hasText: "did not pass the test, so nothing was saved" }).waitFor();

    await page.fill("#nwc-uri", nwc.uri);
    await page.getByRole("button", { name: "Connect NWC wallet" }).click();
    await page.locator(".notice", { hasText: "Wallet connected" }).waitFor();
    const tested = (await page.textContent("[data-testid=wallet-test]"))!;
    expect(tested).toContain("The Nostr Wallet Connect wallet answered");
    expect(tested).toContain("balance 7,000 sats");
    expect(await page.content()).not.toContain(secret);
    await screenshot(page, "dashboard-wallet-nwc");

    // An agent funded from it pays a merchant through the NWC wallet.
    await page.goto(`${W}/`);
    expect(await page.textContent(".stats")).toContain("7,000");
    await page.fill("#name", "nwc payer");
    await page.fill("#initial_balance_sats", "1000");
    await page.getByRole("button", { name: "Create agent" }).click();
    const apiKey = (await page.locator("[data-testid=new-key]").textContent())!.trim();
    const inv = await labControl<{ invoice: string; payment_hash: string }>(inject("labUrl"), "invoice", {
      amount_sats: 100,
    });
    const r = await callTool(apiKey, "pay_invoice", { invoice: inv.invoice }, W);
    expect(r.structuredContent).toMatchObject({ status: "succeeded", amount_sats: 100 });
    expect(await labControl(inject("labUrl"), "invoice_status", { payment_hash: inv.payment_hash })).toMatchObject({
      status: "paid",
    });
    await page.goto(`${W}/`);
    expect(await page.textContent(".stats")).toContain("6,900");
    await screenshot(page, "dashboard-overview-nwc");
    for (const path of ["/", "/wallet", "/keys", "/transactions"]) {
      await page.goto(`${W}${path}`);
      expect(await page.content(), path).not.toContain(secret);
    }
    await context.close();
  });
});
