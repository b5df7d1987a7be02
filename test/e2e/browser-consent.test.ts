// Chromium on the consent page: the development sign-in, agent and client names carrying XSS
// payloads shown as text (no script runs), choosing an existing agent, and Deny returning
// access_denied to the client.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { browserSuite, localhostUrl, screenshot } from "./browser";

const BASE = localhostUrl(inject("satchelUrl"));
const DEV_KEY = inject("satchelDevKey");
const PAYLOAD = `<img src=x onerror="alert('xss')"><script>alert("xss")</script>`;

const suite = browserSuite();

async function tool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${BASE}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${DEV_KEY}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = await res.text();
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)![1]!;
  return (JSON.parse(json) as { result: { structuredContent: Record<string, unknown> } }).result.structuredContent;
}

function authorizeUrl(clientId: string): string {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const q = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: suite.callback.url,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "browser-consent",
  });
  return `${BASE}/authorize?${q}`;
}

describe("consent page in Chromium", () => {
  it("shows hostile names as text, lets the operator pick an existing agent, and Deny returns access_denied", async () => {
    const agent = await tool("create_agent", { name: PAYLOAD });
    expect(agent.agent_id).toBeTruthy();
    const registered = (await (
      await fetch(`${BASE}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_name: PAYLOAD,
          redirect_uris: [suite.callback.url],
          token_endpoint_auth_method: "none",
        }),
      })
    ).json()) as { client_id: string };

    const context = await suite.browser.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(authorizeUrl(registered.client_id));
    await page.waitForURL(/\/sign-in/);
    await page.getByRole("button", { name: "Dev sign-in (development operator)" }).click();
    await page.waitForURL(/\/authorize\?/);
    expect(await page.textContent("#client-name")).toBe(PAYLOAD);
    await page.locator(`input[name=agent][value="${agent.agent_id}"]`).check();
    expect(await page.locator(`label:has(input[value="${agent.agent_id}"]) strong`).textContent()).toBe(PAYLOAD);
    await screenshot(page, "consent-existing-agents");
    const redirected = suite.callback.next();
    await page.click("#deny");
    const params = await redirected;
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("state")).toBe("browser-consent");
    expect(params.get("code")).toBeNull();
    expect(dialogs).toEqual([]);
    await context.close();
  });
});
