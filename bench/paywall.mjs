// The pay_l402_api benchmark, called by bench/run.mjs with a running local Satchel:
//
//   import { benchPaywall } from "./paywall.mjs";
//   const lines = await benchPaywall({ url: server.url, devKey: server.devKey });   // printable rows
//
// It starts an Aperture-style L402 server on loopback (binary macaroons from the `macaroon` package,
// invoices from Satchel's /dev/fake-invoice merchant) and times, in the same run:
//   - pay_l402_api through /mcp, a fresh agent per call (no cached token): 402, check, pay, retry;
//   - the irreducible work: the two HTTP requests from Node plus the wallet payment (pay_invoice
//     through /mcp), no checks, no cache;
//   - @getalby/lightning-tools' fetchWithL402 doing the same flow with pay_invoice as its wallet;
//   - a cached-token call (pay_l402_api) next to one plain request with the credential.
// Targets: overhead over the irreducible ≤ 5 ms p50; a cached-token call ≤ one request + 2 ms.
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

/** An Aperture-style L402 server: any path, 10 sats, credential = v0 macaroon + matching preimage. */
async function startL402Server(url, devKey) {
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
  const server = createServer(async (req, res) => {
    try {
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
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/fortune`, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Runs the paywall benchmark against a running Satchel (development mode) and returns printable rows.
 * @param {{ url: string, devKey: string, n?: number }} opts
 * @returns {Promise<string[]>}
 */
export async function benchPaywall({ url, devKey, n = 40 }) {
  const l402 = await startL402Server(url, devKey);
  try {
    const agents = [];
    for (let i = 0; i < n + 3; i++) {
      const a = await mcpCall(url, devKey, "create_agent", {
        name: `bench-paywall-${i}`,
        initial_balance_sats: 2000,
        max_per_payment_sats: 100,
      });
      agents.push(a.api_key);
    }
    const [payer, albyPayer, cachedAgent] = agents.splice(0, 3);
    const payInvoice = (key) => async (invoice) => {
      const p = await mcpCall(url, key, "pay_invoice", { invoice });
      return { preimage: p.preimage, fees_paid: p.fee_sats * 1000 };
    };

    // Warm up every path once.
    await mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.url });

    const satchel = [];
    for (const key of agents) {
      const t0 = now();
      const r = await mcpCall(url, key, "pay_l402_api", { url: l402.url });
      satchel.push(now() - t0);
      if (!r.paid) throw new Error("expected a payment");
    }

    const irreducible = [];
    let credential = "";
    const pay = payInvoice(payer);
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const first = await fetch(l402.url);
      await first.arrayBuffer();
      const h = first.headers.get("www-authenticate");
      const mac = /macaroon="([^"]+)"/.exec(h)[1];
      const pr = /invoice="([^"]+)"/.exec(h)[1];
      const { preimage } = await pay(pr);
      credential = `L402 ${mac}:${preimage}`;
      const second = await fetch(l402.url, { headers: { authorization: credential } });
      await second.arrayBuffer();
      irreducible.push(now() - t0);
      if (second.status !== 200) throw new Error("irreducible flow failed");
    }

    const alby = [];
    const albyWallet = { payInvoice: async ({ invoice }) => payInvoice(albyPayer)(invoice) };
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const res = await fetchWithL402(l402.url, {}, { wallet: albyWallet });
      await res.arrayBuffer();
      alby.push(now() - t0);
    }

    const cached = [];
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const r = await mcpCall(url, cachedAgent, "pay_l402_api", { url: l402.url });
      cached.push(now() - t0);
      if (!r.token_reused) throw new Error("expected a reused token");
    }
    // What a cached call cannot avoid: one request to the API, and one tool call that does nothing.
    const oneRequest = [];
    const whoami = [];
    for (let i = 0; i < n; i++) {
      let t0 = now();
      await (await fetch(l402.url, { headers: { authorization: credential } })).arrayBuffer();
      oneRequest.push(now() - t0);
      t0 = now();
      await mcpCall(url, cachedAgent, "whoami", {});
      whoami.push(now() - t0);
    }

    const S = summarize(satchel);
    const I = summarize(irreducible);
    const A = summarize(alby);
    const C = summarize(cached);
    const R = summarize(oneRequest);
    const W = summarize(whoami);
    const ms = (v) => v.toFixed(2).padStart(9);
    const overhead = S.p50 - I.p50;
    const cachedOver = C.p50 - (W.p50 + R.p50);
    const verdict = (ok) => (ok ? "PASS" : "MISS");
    const row = (label, x) => `  ${label.padEnd(46)}${String(x.n).padStart(4)}${ms(x.p50)}${ms(x.p95)}`;
    return [
      "",
      `${"Paid API (L402, loopback server, fake wallet)".padEnd(48)}${"n".padStart(4)}${"p50".padStart(9)}${"p95".padStart(9)}`,
      row("pay_l402_api via /mcp, paying", S),
      row("irreducible: 2 requests + pay_invoice", I),
      row("fetchWithL402 (alby) + pay_invoice wallet", A),
      row("pay_l402_api via /mcp, cached token", C),
      row("one paid request to the API from Node", R),
      row("whoami via /mcp (a tool call doing nothing)", W),
      `  ${verdict(overhead <= 5)}  Satchel overhead over the irreducible ≤ 5 ms p50: ${overhead.toFixed(2)} ms`,
      `  ${verdict(cachedOver <= 2)}  cached-token call ≤ one request + 2 ms (beyond a no-op tool call): ${cachedOver.toFixed(2)} ms`,
    ];
  } finally {
    await l402.close();
  }
}

// `node bench/paywall.mjs [--quick]`: a throwaway local Satchel, then the rows above.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { startLocalServer } = await import("../scripts/local-server.mjs");
  const server = await startLocalServer();
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
