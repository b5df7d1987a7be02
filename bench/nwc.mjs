// NWC benchmark, called by bench/run.mjs: `await benchNwc({ url, devKey })` → printable rows.
//
// Starts the wallet lab (test/support/nwc/lab.ts, bundled on the fly with esbuild: a loopback
// Nostr relay + @getalby/sdk's NWCWalletService over a test Lightning network), connects the dev
// operator's wallet to it with connect_wallet, and times the same payment two ways in one run:
//   - pay_invoice through Satchel's /mcp (MCP client → Worker → ledger → NWC → relay → wallet)
//   - the same invoice kind paid directly with @getalby/sdk's NWCClient
// for the first payment (cold connection) and the following ones (warm), and counts relay
// connections per payment to show whether a new relay handshake happens per payment.
// The server must have WALLET_SECRET_KEY (connect_wallet seals the URI); without it the rows say so.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { NWCClient } from "@getalby/sdk/nwc";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles the TypeScript lab into a temp ESM file and imports it. */
async function loadLab() {
  const { build } = await import("esbuild");
  // Inside node_modules, so the bundle's bare imports resolve to the project's packages.
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, "node_modules/.cache/satchel-nwc-bench-"));
  const outfile = join(dir, "lab.mjs");
  await build({
    entryPoints: [join(ROOT, "test/support/nwc/lab.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile,
    logLevel: "silent",
  });
  const mod = await import(pathToFileURL(outfile).href);
  return { mod, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
 * @param {{ url: string, devKey: string, n?: number }} opts
 * @returns {Promise<{ name: string, value: string, note?: string }[]>}
 */
export async function benchNwc({ url, devKey, n = 20 }) {
  const { mod, cleanup } = await loadLab();
  const lab = await mod.startLab();
  const clients = [];
  const connect = async (key) => {
    const c = new Client({ name: "satchel-bench-nwc", version: "1.0.0" });
    await c.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { authProvider: { token: async () => key } }),
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
  const rows = [];
  try {
    // Satchel over NWC.
    const satchelWallet = await lab.createNwcWallet({ kind: "nip44", startSats: 10_000_000 });
    const op = await connect(devKey);
    try {
      await call(op, "connect_wallet", { type: "nwc", uri: satchelWallet.uri });
    } catch (e) {
      return [{ name: "nwc", value: "skipped", note: `connect_wallet failed (${String(e).slice(0, 160)})` }];
    }
    const agent = await call(op, "create_agent", { name: "bench-nwc", initial_balance_sats: 1_000_000 });
    const ag = await connect(agent.api_key);
    const relayBefore = (await fetchStats(lab)).connections;
    const mcpTimes = [];
    for (let i = 0; i <= n; i++) {
      const inv = invoice(10);
      const t0 = performance.now();
      await call(ag, "pay_invoice", { invoice: inv });
      mcpTimes.push(performance.now() - t0);
    }
    const relayAfter = (await fetchStats(lab)).connections;

    // The same payments straight from NWCClient.
    const directWallet = await lab.createNwcWallet({ kind: "nip44", startSats: 10_000_000 });
    const nwc = new NWCClient({ nostrWalletConnectUrl: directWallet.uri });
    const directTimes = [];
    for (let i = 0; i <= n; i++) {
      const inv = invoice(10);
      const t0 = performance.now();
      await nwc.payInvoice({ invoice: inv });
      directTimes.push(performance.now() - t0);
    }
    nwc.close();

    const mcpWarm = median(mcpTimes.slice(1));
    const directWarm = median(directTimes.slice(1));
    const perPayment = (relayAfter - relayBefore) / mcpTimes.length;
    rows.push(
      { name: "nwc: pay_invoice via /mcp, first (cold)", value: fmt(mcpTimes[0]) },
      {
        name: `nwc: pay_invoice via /mcp, warm p50 (n=${n})`,
        value: fmt(mcpWarm),
        note: `p95 ${fmt(p95(mcpTimes.slice(1)))}`,
      },
      { name: "nwc: NWCClient direct, first (cold)", value: fmt(directTimes[0]) },
      {
        name: `nwc: NWCClient direct, warm p50 (n=${n})`,
        value: fmt(directWarm),
        note: `p95 ${fmt(p95(directTimes.slice(1)))}`,
      },
      {
        name: "nwc: overhead of Satchel over direct NWC (warm p50)",
        value: `${((mcpWarm / directWarm - 1) * 100).toFixed(0)}%`,
        note: "target ≤ 20%",
      },
      {
        name: "nwc: relay connections opened per payment via Satchel",
        value: perPayment.toFixed(2),
        note:
          perPayment >= 0.5
            ? "a new relay handshake per payment (NWC_SESSIONS not bound: per-call client)"
            : "connection reused across payments (NwcSession)",
      },
    );
    return rows;
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
