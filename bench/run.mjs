// `npm run bench`: starts a throwaway local Satchel (scripts/local-server.mjs), warms it up and prints
// latency, throughput and size figures against the design targets. Loopback only, bounded loops,
// stops by itself. Figures come from `wrangler dev` (local workerd, fake wallet), not production, and
// without wrangler's dev-only trace collector (X_LOCAL_OBSERVABILITY=false, see local-server).
//
// Options: --quick (smaller counts, for a smoke run).
import { Buffer } from "node:buffer";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startLocalServer } from "../scripts/local-server.mjs";
import { benchAuth } from "./auth.mjs";
import { benchNwc } from "./nwc.mjs";
import { benchPaywall } from "./paywall.mjs";

const QUICK = process.argv.includes("--quick");
const N = QUICK
  ? {
      warmup: 5,
      health: 50,
      balance: 50,
      pay: 30,
      agents: 4,
      perAgent: 10,
      ledger: 1000,
      ledgerRuns: 2,
      ledgerGrowthRuns: 2,
    }
  : {
      warmup: 30,
      health: 500,
      balance: 300,
      pay: 200,
      agents: 16,
      perAgent: 50,
      ledger: 5000,
      ledgerRuns: 3,
      ledgerGrowthRuns: 3,
    };
const PAY_SATS = 10;
const TARGETS = { payP50Ms: 15, ledgerOpsPerSec: 2000, toolsListBytes: 12 * 1024 };

// ---- helpers ------------------------------------------------------------------------------------

const now = () => performance.now();

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
}

async function timeEach(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await fn(i);
    samples.push(now() - t0);
  }
  return samples;
}

/** Runs fn over items with at most `limit` in flight. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function step(message) {
  process.stderr.write(`• ${message}\n`);
}

// ---- Satchel calls --------------------------------------------------------------------------------

/** The JSON-RPC responses to tools/list seen on the wire, for the size figure. */
const toolsListBodies = new Map();

/** A fetch that remembers the raw body of tools/list responses (keyed by the client label). */
function recordingFetch(label) {
  return async (input, init) => {
    const res = await fetch(input, init);
    const body = typeof init?.body === "string" ? init.body : "";
    if (body.includes('"tools/list"')) toolsListBodies.set(label, await res.clone().text());
    return res;
  };
}

async function connect(url, key, label = "client") {
  const client = new Client({ name: "satchel-bench", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    authProvider: { token: async () => key },
    fetch: recordingFetch(label),
  });
  await client.connect(transport);
  return client;
}

async function call(client, name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.structuredContent ?? result.content)}`);
  return result.structuredContent;
}

async function devPost(url, devKey, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path} → ${res.status} ${await res.text()}`);
  return res.json();
}

const merchantInvoices = (url, devKey, count) =>
  pool(Array.from({ length: count }), 4, () =>
    devPost(url, devKey, "/dev/fake-invoice", { amount_sats: PAY_SATS, description: "bench" }).then((r) => r.invoice),
  );

/** The JSON-RPC message inside a Streamable HTTP body (plain JSON, or one SSE `data:` event). */
function jsonRpcMessage(body) {
  const trimmed = body.trim();
  if (trimmed.startsWith("{")) return trimmed;
  const data = trimmed
    .split(/\r?\n/)
    .filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).trimStart())
    .join("\n");
  return data;
}

// ---- the run --------------------------------------------------------------------------------------

// A counterpart library closing its sockets late (the NWC wallet service does) must not abort the
// report; such rejections are printed and the run goes on.
process.on("unhandledRejection", (e) => {
  console.error(`(ignored) unhandled rejection: ${e instanceof Error ? e.message : String(e)}`);
});

async function main() {
  step("starting wrangler dev (fresh state)…");
  // Rate limits off (development only): the benchmark sends far more than one client may. Log level
  // warn: wrangler's per-request log line is a loopback call into its Node process (see local-server).
  const server = await startLocalServer({
    vars: { RATE_LIMITS: "off", WALLET_SECRET_KEY: "YmVuY2gtd2FsbGV0LXNlY3JldC1rZXktMzItYnl0ZXM=" },
    logLevel: "warn",
  });
  const stopOnSignal = () => server.stop().finally(() => process.exit(130));
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  const { url, devKey } = server;
  // The Worker's own socket inside wrangler dev, past wrangler's dev proxy (see local-server).
  const directUrl = await server.directUrl();
  const clients = [];
  try {
    const operator = await connect(url, devKey, "operator");
    clients.push(operator);

    // Latency agent: enough for warm-up + timed payments.
    const latencyPayments = N.warmup + N.pay;
    const agent = await call(operator, "create_agent", {
      name: "bench latency",
      initial_balance_sats: latencyPayments * PAY_SATS * 2,
    });
    const agentClient = await connect(url, agent.api_key, "agent");
    clients.push(agentClient);
    // Every benchmark cycle settles 1 sat for real, so ledger agents are funded for all of them.
    const ledgerWarmup = 500;
    const ledgerAgent = await call(operator, "create_agent", {
      name: "bench ledger warm-up",
      initial_balance_sats: ledgerWarmup,
    });

    step(`creating ${latencyPayments} merchant invoices for the latency run…`);
    const latencyInvoices = await merchantInvoices(url, devKey, latencyPayments);

    step("warming up…");
    for (let i = 0; i < N.warmup; i++) {
      await fetch(`${url}/health`).then((r) => r.arrayBuffer());
      await call(agentClient, "whoami");
      await call(agentClient, "check_balance");
      await call(agentClient, "pay_invoice", { invoice: latencyInvoices[i] });
    }
    await devPost(url, devKey, "/dev/bench/ledger", { agent_id: ledgerAgent.agent_id, n: ledgerWarmup });

    step(`GET /health ×${N.health}…`);
    const health = summarize(await timeEach(N.health, () => fetch(`${url}/health`).then((r) => r.arrayBuffer())));

    step(`whoami ×${N.balance} (auth + MCP round trip, no Durable Object)…`);
    const whoami = summarize(await timeEach(N.balance, () => call(agentClient, "whoami")));

    step(`check_balance ×${N.balance}…`);
    const balance = summarize(await timeEach(N.balance, () => call(agentClient, "check_balance")));

    step(`pay_invoice ×${N.pay} (external fake invoices, created beforehand)…`);
    const pay = summarize(
      await timeEach(N.pay, async (i) => {
        const r = await call(agentClient, "pay_invoice", { invoice: latencyInvoices[N.warmup + i] });
        if (r.status !== "succeeded") throw new Error(`payment ${i}: ${r.status}`);
      }),
    );

    step(`throughput: ${N.agents} agents × ${N.perAgent} payments, in parallel…`);
    const payers = await pool(Array.from({ length: N.agents }), 4, async (_, i) => {
      const created = await call(operator, "create_agent", {
        name: `bench payer ${i}`,
        initial_balance_sats: N.perAgent * PAY_SATS * 2,
      });
      const client = await connect(url, created.api_key, `payer ${i}`);
      clients.push(client);
      await call(client, "check_balance"); // connection and isolate warm before timing
      return { client, invoices: await merchantInvoices(url, devKey, N.perAgent) };
    });
    let succeeded = 0;
    let failed = 0;
    const t0 = now();
    await Promise.all(
      payers.map(async ({ client, invoices }) => {
        for (const invoice of invoices) {
          const r = await client.callTool({ name: "pay_invoice", arguments: { invoice } });
          if (!r.isError && r.structuredContent?.status === "succeeded") succeeded++;
          else failed++;
        }
      }),
    );
    const parallelSeconds = (now() - t0) / 1000;
    const paymentsPerSec = succeeded / parallelSeconds;

    // Each run on a fresh agent (the target figure), then consecutive runs on one agent, which show
    // how the cost of a reservation grows with the agent's payment history.
    const ledgerRun = async (agentId) => {
      const t = now();
      const r = await devPost(url, devKey, "/dev/bench/ledger", { agent_id: agentId, n: N.ledger });
      const seconds = (now() - t) / 1000;
      if (r.settled !== N.ledger) throw new Error(`ledger bench settled ${r.settled} of ${N.ledger}`);
      return N.ledger / seconds;
    };
    const ledgerFunding = N.ledger * Math.max(N.ledgerRuns, N.ledgerGrowthRuns) + 1000;
    step(`ledger reserve+settle: ${N.ledgerRuns} runs of n=${N.ledger}, each on a fresh agent…`);
    const ledgerRates = [];
    for (let run = 0; run < N.ledgerRuns; run++) {
      const fresh = await call(operator, "create_agent", {
        name: `bench ledger ${run}`,
        initial_balance_sats: ledgerFunding,
      });
      ledgerRates.push(await ledgerRun(fresh.agent_id));
    }
    const ledgerSorted = [...ledgerRates].sort((a, b) => a - b);
    const ledgerMedian = percentile(ledgerSorted, 50);
    const ledgerBest = ledgerSorted[ledgerSorted.length - 1];
    step(`ledger reserve+settle: ${N.ledgerGrowthRuns} consecutive runs of n=${N.ledger} on one agent…`);
    const growthAgent = await call(operator, "create_agent", {
      name: "bench ledger growth",
      initial_balance_sats: ledgerFunding,
    });
    const growthRates = [];
    for (let run = 0; run < N.ledgerGrowthRuns; run++) growthRates.push(await ledgerRun(growthAgent.agent_id));

    step("tools/list sizes…");
    const agentTools = (await agentClient.listTools()).tools;
    const operatorTools = (await operator.listTools()).tools;
    const bytes = (s) => Buffer.byteLength(s, "utf8");
    const agentToolsBytes = bytes(JSON.stringify(agentTools));
    const operatorToolsBytes = bytes(JSON.stringify(operatorTools));
    const agentBody = toolsListBodies.get("agent") ?? "";
    const agentRpcBytes = bytes(jsonRpcMessage(agentBody));
    const agentHttpBytes = bytes(agentBody);
    const operatorRpcBytes = bytes(jsonRpcMessage(toolsListBodies.get("operator") ?? ""));

    // ---- report -----------------------------------------------------------------------------------
    const ms = (v) => v.toFixed(2);
    const ratio = (v) => `${(v / health.p50).toFixed(1)}×`;
    const rows = [
      ["GET /health", health, "(baseline)"],
      ["whoami (/mcp)", whoami, ratio(whoami.p50)],
      ["check_balance (/mcp)", balance, ratio(balance.p50)],
      ["pay_invoice (/mcp, external)", pay, ratio(pay.p50)],
    ];
    const lines = [];
    lines.push("");
    lines.push(
      `Satchel bench — wrangler dev (--log-level warn, local trace collector off) on ${url}, Node ${process.version}${QUICK ? " (--quick)" : ""}`,
    );
    lines.push("");
    lines.push(
      `${"Latency (ms)".padEnd(30)}${"n".padStart(6)}${"p50".padStart(9)}${"p95".padStart(9)}${"p99".padStart(9)}   p50 vs /health`,
    );
    for (const [name, s, r] of rows) {
      lines.push(
        `${name.padEnd(30)}${String(s.n).padStart(6)}${ms(s.p50).padStart(9)}${ms(s.p95).padStart(9)}${ms(s.p99).padStart(9)}   ${r}`,
      );
    }
    lines.push("");
    lines.push("Throughput");
    lines.push(
      `  payments/s, ${N.agents} agents in parallel   ${paymentsPerSec.toFixed(1).padStart(9)}   (${succeeded} ok, ${failed} failed, ${parallelSeconds.toFixed(2)} s)`,
    );
    lines.push(
      `  ledger reserve+settle/s          ${ledgerMedian.toFixed(0).padStart(9)}   median of ${N.ledgerRuns} × n=${N.ledger}, fresh agent each (best ${ledgerBest.toFixed(0)}; runs ${ledgerRates.map((r) => r.toFixed(0)).join(", ")})`,
    );
    lines.push(
      `  … same agent, consecutive runs   ${growthRates
        .map((r) => r.toFixed(0))
        .join(" → ")
        .padStart(9)}   (history ${N.ledger} → ${N.ledger * N.ledgerGrowthRuns} entries)`,
    );
    lines.push("");
    lines.push("tools/list size (bytes)               agent   operator");
    lines.push(
      `  JSON.stringify(tools)         ${String(agentToolsBytes).padStart(11)}${String(operatorToolsBytes).padStart(11)}   (${agentTools.length} / ${operatorTools.length} tools)`,
    );
    lines.push(
      `  JSON-RPC response             ${String(agentRpcBytes).padStart(11)}${String(operatorRpcBytes).padStart(11)}   (agent HTTP body ${agentHttpBytes})`,
    );
    lines.push("");
    lines.push("Targets");
    const verdict = (ok) => (ok ? "PASS" : "MISS");
    lines.push(
      `  ${verdict(pay.p50 <= TARGETS.payP50Ms)}  pay_invoice p50 ≤ ${TARGETS.payP50Ms} ms            ${ms(pay.p50)} ms`,
    );
    lines.push(
      `  ${verdict(ledgerMedian >= TARGETS.ledgerOpsPerSec)}  ledger ≥ ${TARGETS.ledgerOpsPerSec.toLocaleString("en")} reserve+settle/s   ${ledgerMedian.toFixed(0)}/s (median)`,
    );
    lines.push(
      `  ${verdict(agentRpcBytes <= TARGETS.toolsListBytes)}  agent tools/list ≤ 12 KB           ${agentRpcBytes} B JSON-RPC response (${(agentRpcBytes / 1024).toFixed(1)} KB)`,
    );
    lines.push("");
    // The other benchmarks share this server; NWC goes last because it moves the dev operator's wallet to NWC.
    for (const [name, run] of [
      ["auth", () => benchAuth({ url, agentKey: agent.api_key, n: QUICK ? 50 : 300 })],
      ["paid APIs", () => benchPaywall({ url, devKey, ...(QUICK ? { n: 10 } : {}) })],
      ["NWC", () => benchNwc({ url, directUrl, devKey, ...(QUICK ? { n: 5 } : {}) })],
    ]) {
      step(`${name} benchmark…`);
      try {
        lines.push(...(await run()), "");
      } catch (e) {
        lines.push(`${name} benchmark failed: ${e instanceof Error ? e.message : String(e)}`, "");
      }
    }
    console.log(lines.join("\n"));
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server.stop();
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
