// NWC benchmark, called by bench/run.mjs: `await benchNwc({ url, devKey })` → printable lines.
//
// `directUrl` (optional, from local-server's directUrl()) is the Worker's own socket inside wrangler dev:
// the verdict uses it, so the figure is Satchel's and not wrangler's dev proxy (a forwarding Durable
// Object in a second workerd, absent in production); the same payment through wrangler's public port
// is timed in the same loop and printed next to it.
//
// Starts the wallet lab (test/support/nwc/lab.ts, bundled on the fly with esbuild: a loopback
// Nostr relay + @getalby/sdk's NWCWalletService over a test Lightning network), connects the dev
// operator's wallet to it with connect_wallet, and times the same payment two ways in one run:
//   - pay_invoice through Satchel's /mcp (MCP client → Worker → ledger → NWC → relay → wallet), on the
//     Worker's own socket and through wrangler's public port
//   - the same invoice kind paid directly with @getalby/sdk's NWCClient
// for the first payment (cold connection) and the following ones (warm), and counts relay
// connections per payment to show whether a new relay handshake happens per payment.
// The server must have WALLET_SECRET_KEY (connect_wallet seals the URI); without it the lines say so.
// Run alone with `node bench/nwc.mjs` (it then starts a Satchel of its own with that key).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { NWCClient } from "@getalby/sdk/nwc";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles the TypeScript lab and Satchel's NIP-47 client into temp ESM files and imports them. */
async function loadLab() {
  const { build } = await import("esbuild");
  // Inside node_modules, so the bundle's bare imports resolve to the project's packages.
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, "node_modules/.cache/satchel-nwc-bench-"));
  await build({
    entryPoints: { lab: join(ROOT, "test/support/nwc/lab.ts"), client: join(ROOT, "src/wallet/nwc-client.ts") },
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    logLevel: "silent",
  });
  const mod = await import(pathToFileURL(join(dir, "lab.mjs")).href);
  const client = await import(pathToFileURL(join(dir, "client.mjs")).href);
  return { mod, client, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const p95 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] : NaN;
};
const fmt = (ms) => `${ms.toFixed(1)} ms`;

/**
 * @param {{ url: string, directUrl?: string | null, devKey: string, n?: number }} opts
 * @returns {Promise<string[]>}
 */
export async function benchNwc({ url, directUrl = null, devKey, n = 60 }) {
  // Where the verdict's payments go: the Worker itself when its socket is known, else wrangler's port.
  const satchelUrl = directUrl ?? url;
  const { mod, client, cleanup } = await loadLab();
  const lab = await mod.startLab();
  const clients = [];
  const connect = async (key, base = satchelUrl) => {
    const c = new Client({ name: "satchel-bench-nwc", version: "1.0.0" });
    await c.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: { token: async () => key } }),
    );
    clients.push(c);
    return c;
  };
  const call = async (c, name, args = {}) => {
    const r = await c.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.structuredContent ?? r.content)}`);
    return r.structuredContent;
  };
  const invoice = (sats) =>
    lab.network.makeInvoice("merchant", { amountMsat: sats * 1000, description: "bench" }).invoice;
  try {
    // Agents first (while the built-in fake wallet is connected), so nothing but the payments
    // below touches the NWC wallet after connect_wallet.
    const op = await connect(devKey);
    const fakeAgent = await call(op, "create_agent", { name: "bench-fake", initial_balance_sats: 20 * (n + 1) });
    // Two payments per round (the Worker socket and wrangler's port), each holding 10 sats plus the fee limit.
    const agent = await call(op, "create_agent", { name: "bench-nwc", initial_balance_sats: 30 * (n + 1) });
    const fa = await connect(fakeAgent.api_key);
    const ag = await connect(agent.api_key);
    // The same agent through wrangler's public port (only when the verdict uses the Worker's socket).
    const agProxied = directUrl ? await connect(agent.api_key, url) : null;

    // Satchel's own cost, for reference: the same pay_invoice with the built-in fake wallet (no relay).
    const fakeTimes = [];
    for (let i = 0; i <= n; i++) {
      const inv = await fakeInvoice(url, devKey);
      const t0 = performance.now();
      await call(fa, "pay_invoice", { invoice: inv });
      fakeTimes.push(performance.now() - t0);
    }

    // Satchel over NWC. connect_wallet tests the wallet through the operator's desk and then
    // resets it, so the first payment below opens the connection (cold) and the rest reuse it (warm).
    const satchelWallet = await lab.createNwcWallet({ kind: "nip44", startSats: 10_000_000 });
    try {
      await call(op, "connect_wallet", { type: "nwc", uri: satchelWallet.uri });
    } catch (e) {
      return [`NWC benchmark skipped: connect_wallet failed (${String(e).slice(0, 160)})`];
    }
    // The same payments straight from NWCClient (a wallet of its own), interleaved with Satchel's so
    // both see the same machine load.
    const directWallet = await lab.createNwcWallet({ kind: "nip44", startSats: 10_000_000 });
    const nwc = new NWCClient({ nostrWalletConnectUrl: directWallet.uri });
    // And Satchel's own NIP-47 client (src/wallet/nwc-client.ts, what the operator's desk runs) in Node:
    // the NWC leg of a Satchel payment without the Worker around it.
    const ownWallet = await lab.createNwcWallet({ kind: "nip44", startSats: 10_000_000 });
    const own = new client.NwcClient(client.parseNwcUri(ownWallet.uri));
    const mcpTimes = [];
    const mcpRelay = [];
    const proxiedTimes = [];
    const directTimes = [];
    const directRelay = [];
    const ownTimes = [];
    for (let i = 0; i <= n; i++) {
      let inv = invoice(10);
      let before = await fetchStats(lab);
      let t0 = performance.now();
      await call(ag, "pay_invoice", { invoice: inv });
      mcpTimes.push(performance.now() - t0);
      mcpRelay.push(relayDelta(before, await fetchStats(lab)));

      if (agProxied) {
        inv = invoice(10);
        t0 = performance.now();
        await call(agProxied, "pay_invoice", { invoice: inv });
        proxiedTimes.push(performance.now() - t0);
      }

      inv = invoice(10);
      before = await fetchStats(lab);
      t0 = performance.now();
      await nwc.payInvoice({ invoice: inv });
      directTimes.push(performance.now() - t0);
      directRelay.push(relayDelta(before, await fetchStats(lab)));

      inv = invoice(10);
      t0 = performance.now();
      await own.request("pay_invoice", { invoice: inv }, 30_000);
      ownTimes.push(performance.now() - t0);
    }
    nwc.close();
    own.close();

    const mcpWarm = median(mcpTimes.slice(1));
    const directWarm = median(directTimes.slice(1));
    const ownWarm = median(ownTimes.slice(1));
    const fakeWarm = median(fakeTimes.slice(1));
    const warm = perPayment(mcpRelay.slice(1));
    const directPer = perPayment(directRelay.slice(1));
    // Two measures of the overhead, and the target counts as met only when both are:
    // - per pair: each Satchel payment against the NWCClient payment made right after it, so a slow
    //   stretch of the machine weighs on both sides of a pair alike (the median pair);
    // - the ratio of the two warm p50s, which also feels a heavier tail on one side.
    const pairs = mcpTimes.slice(1).map((t, i) => t / directTimes[i + 1] - 1);
    const overheadOfPairs = median(pairs);
    const overheadOfMedians = mcpWarm / directWarm - 1;
    const overhead = Math.max(overheadOfPairs, overheadOfMedians);
    const verdict = (ok) => (ok ? "PASS" : "MISS");
    const row = (label, first, xs, note = "") =>
      `  ${label.padEnd(50)}${(first === null ? "—" : fmt(first)).padStart(10)}${fmt(median(xs)).padStart(10)}${fmt(p95(xs)).padStart(10)}${note ? `   ${note}` : ""}`;
    return [
      `${"NWC (loopback relay + NWCWalletService)".padEnd(52)}${"first".padStart(10)}${"p50".padStart(10)}${"p95".padStart(10)}   (warm: n=${n}, interleaved)`,
      `  Satchel at ${directUrl ? "the Worker's own socket in wrangler dev (no dev proxy)" : "wrangler's public port (Worker socket not found)"}`,
      row("pay_invoice via /mcp over NWC", mcpTimes[0], mcpTimes.slice(1), `first: ${relayNote(mcpRelay[0])}`),
      ...(proxiedTimes.length
        ? [
            row(
              "… the same, through wrangler's dev proxy",
              null, // its first payment follows a warm one: not a cold figure
              proxiedTimes.slice(1),
              `overhead ${((median(proxiedTimes.slice(1)) / directWarm - 1) * 100).toFixed(0)}% (dev server only)`,
            ),
          ]
        : []),
      row(
        "NWCClient (@getalby/sdk) direct",
        directTimes[0],
        directTimes.slice(1),
        `first: ${relayNote(directRelay[0])}`,
      ),
      row("Satchel's NwcClient alone, in Node (the NWC leg)", ownTimes[0], ownTimes.slice(1)),
      row("pay_invoice via /mcp, fake wallet (Satchel's own)", fakeTimes[0], fakeTimes.slice(1)),
      `  relay traffic per warm payment: Satchel ${relayNote(warm)}; NWCClient ${relayNote(directPer)}`,
      `  warm p50: Satchel over NWC ${fmt(mcpWarm)}; its parts: Satchel's own pay_invoice ${fmt(fakeWarm)} (fake wallet, measured before), its NWC leg ${fmt(ownWarm)}; direct NWCClient ${fmt(directWarm)}`,
      `  ${verdict(warm.connections < 0.5)}  no new relay handshake per payment once warm: ${warm.connections.toFixed(2)} connections, ${warm.REQ.toFixed(2)} REQ per payment`,
      `  ${verdict(overhead <= 0.2)}  overhead over direct NWC ≤ 20% once warm, by both measures: median of ${pairs.length} back-to-back pairs ${(overheadOfPairs * 100).toFixed(0)}%, ratio of the p50s ${(overheadOfMedians * 100).toFixed(0)}% (+${fmt(mcpWarm - directWarm)})`,
    ];
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await lab.stop();
    cleanup();
  }
}

async function fetchStats(lab) {
  const res = await fetch(`${lab.url}/control`, { method: "POST", body: JSON.stringify({ op: "relay_stats" }) });
  return res.json();
}

async function fakeInvoice(url, devKey) {
  const res = await fetch(`${url}/dev/fake-invoice`, {
    method: "POST",
    headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
    body: JSON.stringify({ amount_sats: 10, description: "bench" }),
  });
  if (!res.ok) throw new Error(`/dev/fake-invoice → ${res.status}`);
  return (await res.json()).invoice;
}

/** What one payment cost at the relay: sockets opened and messages sent by clients. */
function relayDelta(a, b) {
  return {
    connections: b.connections - a.connections,
    REQ: b.messages.REQ - a.messages.REQ,
    EVENT: b.messages.EVENT - a.messages.EVENT,
    CLOSE: b.messages.CLOSE - a.messages.CLOSE,
  };
}

function perPayment(deltas) {
  const sum = (k) => deltas.reduce((s, d) => s + d[k], 0) / Math.max(1, deltas.length);
  return { connections: sum("connections"), REQ: sum("REQ"), EVENT: sum("EVENT"), CLOSE: sum("CLOSE") };
}

const round = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const relayNote = (d) =>
  `${round(d.connections)} connect, ${round(d.REQ)} REQ, ${round(d.EVENT)} EVENT, ${round(d.CLOSE)} CLOSE`;

// `node bench/nwc.mjs [--n=20] [--trace-collector]`: runs this benchmark alone against a Satchel of its own, started with the
// settings connect_wallet needs (a wallet-sealing key) and no fee reserve, as in the wallet e2e tests.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { startLocalServer } = await import("../scripts/local-server.mjs");
  const nArg = process.argv.find((a) => a.startsWith("--n="));
  // --trace-collector: the same run with wrangler dev's local trace collector on, as before it was switched off.
  const traceCollector = process.argv.includes("--trace-collector");
  if (traceCollector) console.log("(wrangler dev's local trace collector on)");
  const server = await startLocalServer({
    traceCollector,
    vars: {
      RATE_LIMITS: "off",
      WALLET_SECRET_KEY: "c2F0Y2hlbC1iZW5jaC13YWxsZXQtc2VjcmV0LWtleSE=",
      WALLET_FEE_RESERVE_PPM: "0",
      WALLET_FEE_RESERVE_MIN_SATS: "0",
    },
  });
  try {
    const lines = await benchNwc({
      url: server.url,
      directUrl: await server.directUrl(),
      devKey: server.devKey,
      n: nArg ? Number(nArg.slice(4)) : 60,
    });
    console.log(lines.join("\n"));
  } finally {
    await server.stop();
  }
}
