// Auth overhead per MCP request: the same tools/list with an OAuth access token, with an API key,
// and GET /health as the floor, all measured in one run against one server.
import { webcrypto } from "node:crypto";

const REDIRECT = "http://127.0.0.1:9/callback";

/** A cookie-keeping client for the sign-in and consent pages. */
function browser(base) {
  const jar = new Map();
  return async function request(path, init = {}) {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(`${base}${path}`, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      if (/Max-Age=0/i.test(c) || pair.slice(i + 1) === "") jar.delete(pair.slice(0, i));
      else jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
}

const field = (page, name) => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!m) throw new Error(`bench/auth: no ${name} field in page`);
  return m[1];
};
const form = (fields) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** Runs the OAuth dance with the development sign-in and returns an access token bound to a new agent. */
async function oauthToken(base) {
  const request = browser(base);
  const signIn = await (await request("/sign-in")).text();
  const signedIn = await request("/auth/dev", form({ csrf: field(signIn, "csrf"), next: "/" }));
  if (signedIn.status !== 303) throw new Error(`bench/auth: dev sign-in answered ${signedIn.status}`);
  const reg = await fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "bench",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    }),
  });
  const { client_id } = await reg.json();
  const verifier = b64url(webcrypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(
    new Uint8Array(await webcrypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  const q = new URLSearchParams({
    response_type: "code",
    client_id,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "bench",
    scope: "mcp",
  });
  const consent = await (await request(`/authorize?${q}`)).text();
  const approved = await request(
    "/authorize",
    form({
      csrf: field(consent, "csrf"),
      handle: field(consent, "handle"),
      decision: "approve",
      agent: "new",
      new_agent_name: "bench oauth agent",
    }),
  );
  const code = new URL(approved.headers.get("location")).searchParams.get("code");
  const tokens = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      client_id,
      code_verifier: verifier,
    }),
  });
  const { access_token } = await tokens.json();
  if (!access_token) throw new Error("bench/auth: no access token");
  return access_token;
}

function toolsList(base, bearer) {
  return fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
  });
}

async function timeIt(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fn();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`bench/auth: HTTP ${res.status}`);
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** Figures for the auth overhead; `agentKey` is an agent API key of the running server. */
export async function benchAuth({ url, agentKey, n = 300 }) {
  const token = await oauthToken(url);
  // Warm every path once so no cold start lands in a sample.
  for (let i = 0; i < 20; i++) {
    await (await fetch(`${url}/health`)).arrayBuffer();
    await (await toolsList(url, agentKey)).arrayBuffer();
    await (await toolsList(url, token)).arrayBuffer();
  }
  const health = await timeIt(n, () => fetch(`${url}/health`));
  const apiKey = await timeIt(n, () => toolsList(url, agentKey));
  const oauth = await timeIt(n, () => toolsList(url, token));
  const f = (v) => v.toFixed(2).padStart(8);
  const authOverOauth = oauth.p50 - apiKey.p50;
  return [
    "Auth overhead per MCP request (ms)   n      p50      p95      p99   p50 vs /health",
    `GET /health                        ${String(n).padStart(4)} ${f(health.p50)} ${f(health.p95)} ${f(health.p99)}   (baseline)`,
    `tools/list, agent API key          ${String(n).padStart(4)} ${f(apiKey.p50)} ${f(apiKey.p95)} ${f(apiKey.p99)}   ${(apiKey.p50 / health.p50).toFixed(1)}×`,
    `tools/list, OAuth access token     ${String(n).padStart(4)} ${f(oauth.p50)} ${f(oauth.p95)} ${f(oauth.p99)}   ${(oauth.p50 / health.p50).toFixed(1)}×`,
    `  OAuth token validation + principal over an API key: ${authOverOauth.toFixed(2)} ms p50`,
    `  ${authOverOauth <= 2 ? "PASS" : "MISS"}  auth adds ≤ 2 ms p50 (OAuth over API key)`,
  ];
}
