// The pay_l402_api benchmark, called by bench/run.mjs with a running local Satchel:
//
//   import { benchPaywall } from "./paywall.mjs";
//   const lines = await benchPaywall({ url: server.url, devKey: server.devKey });   // printable rows
//
// or on its own: `node bench/paywall.mjs [--quick]` (starts a throwaway Satchel).
//
// It serves an Aperture-style L402 paywall on loopback (binary macaroons from the `macaroon` package,
// invoices from Satchel's /dev/fake-invoice merchant) on n + 2 ports, so every paying call meets an
// origin with no cached token while its agent stays warm, and times, interleaved round by round (the
// flows take turns, so a machine whose load drifts weighs on all of them alike):
//   - pay_l402_api through /mcp: 402, check, pay, retry with the credential;
//   - the irreducible work: the two HTTP requests from Node plus the wallet payment (pay_invoice
//     through /mcp), no checks, no cache;
//   - @getalby/lightning-tools' fetchWithL402 doing the same flow with pay_invoice as its wallet;
//   - a cached-token call (pay_l402_api) next to one plain request with the credential;
//   - what one outbound request costs from the Worker under wrangler dev, next to one from Node:
//     pay_l402_api on a free URL minus whoami (both: a tool call reading the agent's ledger snapshot).
// Targets: overhead over the irreducible ≤ 5 ms p50; a cached-token call ≤ one request + 2 ms. Both
// are shown raw, and with the Worker's outbound-request cost counted as part of the request (the
// irreducible's requests leave from Node, Satchel's from workerd). Overheads are medians of the
// per-round differences.
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { fetchWithL402 } from "@getalby/lightning-tools/402/l402";
import * as macaroon from "macaroon";

const now = () => performance.now();

function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95) };
}

/** The JSON-RPC result of one tools/call on the stateless endpoint. */
async function mcpCall(url, key, name, args) {
  const res = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
  });
  const text = (await res.text()).trim();
  const json = text.startsWith("{")
    ? text
    : text
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("");
  const msg = JSON.parse(json);
  const r = msg.result;
  if (!r || r.isError) throw new Error(`${name}: ${JSON.stringify(r?.structuredContent ?? msg.error)}`);
  return r.structuredContent;
}

/**
 * An Aperture-style L402 paywall: 10 sats, credential = v0 macaroon + matching preimage; /free is
 * free. Served on `ports` loopback ports (one handler, one root key): a token of one origin is never
 * sent to another, so each port is a fresh paywall for Satchel's token cache.
 */
async function startL402Servers(url, devKey, ports) {
  const rootKey = randomBytes(32);
  const invoice = async () => {
    const res = await fetch(`${url}/dev/fake-invoice`, {
      method: "POST",
      headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ amount_sats: 10, description: "bench l402" }),
    });
    if (!res.ok) throw new Error(`/dev/fake-invoice ${res.status}`);
    return res.json();
  };
  const handler = async (req, res) => {
    try {
      if (req.url === "/free") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"free":true}');
        return;
      }
      const m = /^(?:L402|LSAT) (\S+):([0-9a-f]{64})$/.exec(req.headers.authorization ?? "");
      if (m) {
        const mac = macaroon.importMacaroon(m[1]);
        mac.verify(rootKey, () => null);
        const hash = Buffer.from(mac.identifier.slice(2, 34)).toString("hex");
        if (createHash("sha256").update(Buffer.from(m[2], "hex")).digest("hex") === hash) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ fortune: "benchmarks never lie" }));
          return;
        }
      }
      const { invoice: pr, payment_hash } = await invoice();
      const id = Buffer.concat([Buffer.alloc(2), Buffer.from(payment_hash, "hex"), randomBytes(32)]);
      const mac = macaroon.newMacaroon({ identifier: id, rootKey, version: 2, location: "bench" });
      mac.addFirstPartyCaveat("services=bench:0");
      const b64 = macaroon.bytesToBase64(mac.exportBinary());
      res.writeHead(402, { "www-authenticate": `L402 macaroon="${b64}", invoice="${pr}"` });
      res.end();
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  };
  const servers = [];
  for (let i = 0; i < ports; i++) {
    const server = createServer((req, res) => void handler(req, res));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
  }
  return {
    urls: servers.map((s) => `http://127.0.0.1:${s.address().port}/fortune`),
    free: `http://127.0.0.1:${servers[0].address().port}/free`,
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

/** Runs each round's steps in a rotating order, so none always goes first. */
async function interleaved(n, steps) {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length](i);
  }
}

const timed = (samples, fn) => async (i) => {
  const t0 = now();
  await fn(i);
  samples.push(now() - t0);
};

/**
 * Runs the paywall benchmark against a running Satchel (development mode) and returns printable rows.
 * @param {{ url: string, devKey: string, n?: number }} opts
 * @returns {Promise<string[]>}
 */
export async function benchPaywall({ url, devKey, n = 40 }) {
  // Ports 0..n-1: one per paying round; n: warm-up; n+1: the cached-token origin.
  const l402 = await startL402Servers(url, devKey, n + 2);
  try {
    const agent = async (name) =>
      (
        await mcpCall(url, devKey, "create_agent", {
          name,
          initial_balance_sats: 20 * (n + 5),
          max_per_payment_sats: 100,
        })
      ).api_key;
    const payer = await agent("bench-paywall-satchel");
    const direct = await agent("bench-paywall-irreducible");
    const albyPayer = await agent("bench-paywall-alby");
    const cachedAgent = await agent("bench-paywall-cached");
    const payInvoice = (key) => async (invoice) => {
      const p = await mcpCall(url, key, "pay_invoice", { invoice });
      return { preimage: p.preimage, fees_paid: p.fee_sats * 1000 };
    };
    const albyWallet = { payInvoice: async ({ invoice }) => payInvoice(albyPayer)(invoice) };
    const pay = payInvoice(direct);
    let credential = "";
    const irreducibleFlow = async (target) => {
      const first = await fetch(target);
      await first.arrayBuffer();
      const h = first.headers.get("www-authenticate");
      const mac = /macaroon="([^"]+)"/.exec(h)[1];
      const pr = /invoice="([^"]+)"/.exec(h)[1];
      const { preimage } = await pay(pr);
      credential = `L402 ${mac}:${preimage}`;
      const second = await fetch(target, { headers: { authorization: credential } });
      await second.arrayBuffer();
      if (second.status !== 200) throw new Error("irreducible flow failed");
    };

    // Warm every agent and path once (their Durable Objects, the code paths, the connections).
    const warm = l402.urls[n];
    await mcpCall(url, payer, "pay_l402_api", { url: warm });
    await irreducibleFlow(warm);
    await (await fetchWithL402(warm, {}, { wallet: albyWallet })).arrayBuffer();
    await mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.urls[n + 1] });
    await mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.free });

    const satchel = [];
    const irreducible = [];
    const alby = [];
    await interleaved(n, [
      timed(satchel, async (i) => {
        const r = await mcpCall(url, payer, "pay_l402_api", { url: l402.urls[i] });
        if (!r.paid) throw new Error("expected a payment");
      }),
      timed(irreducible, (i) => irreducibleFlow(l402.urls[i])),
      timed(alby, async (i) => {
        const res = await fetchWithL402(l402.urls[i], {}, { wallet: albyWallet });
        await res.arrayBuffer();
      }),
    ]);

    const cached = [];
    const oneRequest = [];
    const whoami = [];
    const freeCall = [];
    const nodeFree = [];
    await interleaved(n, [
      timed(cached, async () => {
        const r = await mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.urls[n + 1] });
        if (!r.token_reused) throw new Error("expected a reused token");
      }),
      timed(oneRequest, async () => {
        await (await fetch(l402.urls[n], { headers: { authorization: credential } })).arrayBuffer();
      }),
      timed(whoami, () => mcpCall(url, cachedAgent, "whoami", {})),
      timed(freeCall, () => mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.free })),
      timed(nodeFree, async () => {
        await (await fetch(l402.free)).arrayBuffer();
      }),
    ]);

    const S = summarize(satchel);
    const I = summarize(irreducible);
    const A = summarize(alby);
    const C = summarize(cached);
    const R = summarize(oneRequest);
    const W = summarize(whoami);
    const F = summarize(freeCall);
    const N = summarize(nodeFree);
    const ms = (v) => v.toFixed(2).padStart(9);
    // Differences are medians of per-round differences (the rounds are interleaved), which drift and
    // one-off stalls on a loaded machine disturb far less than a difference of two medians.
    const paired = (f) =>
      percentile(
        Array.from({ length: n }, (_, i) => f(i)).sort((a, b) => a - b),
        50,
      );
    // One request leaving the Worker, beyond one leaving Node (wrangler dev's outbound path).
    const workerRequest = paired((i) => freeCall[i] - whoami[i] - nodeFree[i]);
    const overhead = paired((i) => satchel[i] - irreducible[i]);
    const ownOverhead = paired((i) => satchel[i] - irreducible[i] - 2 * (freeCall[i] - whoami[i] - nodeFree[i]));
    const cachedOver = paired((i) => cached[i] - whoami[i] - oneRequest[i]);
    const cachedOwn = paired((i) => cached[i] - freeCall[i]);
    const verdict = (ok) => (ok ? "PASS" : "MISS");
    const row = (label, x) => `  ${label.padEnd(50)}${String(x.n).padStart(4)}${ms(x.p50)}${ms(x.p95)}`;
    return [
      "",
      `${"Paid API (L402, loopback server, fake wallet)".padEnd(52)}${"n".padStart(4)}${"p50".padStart(9)}${"p95".padStart(9)}`,
      row("pay_l402_api via /mcp, paying (fresh origin)", S),
      row("irreducible: 2 requests from Node + pay_invoice", I),
      row("fetchWithL402 (alby) + pay_invoice wallet", A),
      row("pay_l402_api via /mcp, cached token", C),
      row("one paid request to the API from Node", R),
      row("whoami via /mcp (a tool call doing nothing)", W),
      row("pay_l402_api via /mcp, free URL (one request)", F),
      row("one request to the free URL from Node", N),
      `  one request from the Worker costs ${workerRequest.toFixed(2)} ms more than from Node (free-URL call − whoami − Node request)`,
      `  ${verdict(overhead <= 5)}  Satchel overhead over the irreducible ≤ 5 ms p50, raw: ${overhead.toFixed(2)} ms`,
      `  ${verdict(ownOverhead <= 5)}  … counting the Worker's 2 requests at the Worker's cost: ${ownOverhead.toFixed(2)} ms`,
      `  ${verdict(cachedOver <= 2)}  cached-token call ≤ one request + 2 ms (beyond a no-op tool call), raw: ${cachedOver.toFixed(2)} ms`,
      `  ${verdict(cachedOwn <= 2)}  … beyond one request from the Worker (the free-URL call): ${cachedOwn.toFixed(2)} ms`,
    ];
  } finally {
    await l402.close();
  }
}

// `node bench/paywall.mjs [--quick]`: a throwaway local Satchel, then the rows above.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { startLocalServer } = await import("../scripts/local-server.mjs");
  const server = await startLocalServer({ vars: { RATE_LIMITS: "off" } });
  try {
    const rows = await benchPaywall({
      url: server.url,
      devKey: server.devKey,
      n: process.argv.includes("--quick") ? 15 : 40,
    });
    console.log(rows.join("\n"));
  } finally {
    await server.stop();
  }
}
