// A throwaway local Satchel for the e2e tests and `npm run bench`: fresh D1 and Durable Object state
// in a temp directory, migrations applied, `wrangler dev` on a free loopback port, in development
// mode with a dev operator key of its own.
//
//   const server = await startLocalServer();   // { url, devKey, stop() }
//   ...
//   await server.stop();
//
// Vars are deterministic whatever the developer keeps in .dev.vars: wrangler loads .dev.vars only
// when no --env-file is given, so we pass a generated env file (and nothing else is read: process env
// inclusion is switched off), and we repeat the two vars that matter with --var, which wrangler
// applies last (inputBindings override config vars and env files).
//
// The Worker is served from a snapshot: it is bundled once (`wrangler deploy --dry-run --outdir`)
// and `wrangler dev --no-bundle` serves that file, so edits to src/ while tests or benchmarks run
// neither reload the Worker mid-request nor mix two versions in one run. Pass { snapshot: false }
// to serve src/ live (wrangler then rebuilds and restarts on every save).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const READY = /Ready on (http:\/\/\S+)/;
const OUTPUT_LINES_KEPT = 300;

/** An unused TCP port on the loopback interface (the OS picks it). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (srv.address());
      srv.close(() => resolvePort(port));
    });
  });
}

function wranglerEnv(dir, traceCollector) {
  const env = { ...process.env };
  // Never let a developer's shell leak the settings we pin below.
  delete env.SATCHEL_ENV;
  delete env.DEV_OPERATOR_KEY;
  return {
    ...env,
    CI: "1",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
    CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
    WRANGLER_LOG_PATH: join(dir, "logs"),
    // wrangler dev's local trace collector (on by default) is a streaming tail worker that receives an
    // event for every request, Durable Object call and storage operation of the Worker, in the same
    // workerd process. Production has no such collector in the request path; here it cost 0.35–0.45 ms
    // per Durable Object round trip and doubled a fake-wallet pay_invoice (docs/wallets.md), so tests
    // and benchmarks run without it unless asked (options.traceCollector). `npm start` keeps wrangler's
    // default.
    X_LOCAL_OBSERVABILITY: traceCollector ? "true" : "false",
    FORCE_COLOR: "0",
    NO_COLOR: "1",
  };
}

/** Keeps the last lines a child printed, for error messages; push() returns the lines it completed. */
function outputBuffer() {
  const lines = [];
  let partial = "";
  return {
    push(chunk) {
      const parts = (partial + chunk.toString("utf8").replace(ANSI, "")).split(/\r?\n/);
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
      }
      return parts;
    },
    text: () => [...lines, partial].join("\n").trim(),
  };
}

function runWrangler(args, env, timeoutMs) {
  return new Promise((resolveRun, reject) => {
    const out = outputBuffer();
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`wrangler ${args.slice(0, 3).join(" ")} timed out after ${Math.round(timeoutMs)} ms:\n${out.text()}`),
      );
    }, timeoutMs);
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => out.push(c));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveRun(out.text());
      else reject(new Error(`wrangler ${args.join(" ")} exited with ${code ?? signal}:\n${out.text()}`));
    });
  });
}

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Starts `wrangler dev` and resolves once it printed "Ready on" and /health answers.
 * The whole start (migrations, bundle, wrangler dev, /health) shares one deadline of timeoutMs.
 * options.logLevel: wrangler's --log-level, "log" by default (the Worker's console output is kept for
 * tests that read it). At "info" and above wrangler also prints one line per request, which costs a
 * loopback HTTP call from workerd to wrangler's Node process on every request; the benchmark uses
 * "warn" so its figures time the Worker, not that log line.
 * options.traceCollector: true keeps wrangler dev's local trace collector on (off by default, see wranglerEnv).
 * @param {{ port?: number, inspectorPort?: number, timeoutMs?: number, snapshot?: boolean, logLevel?: string, log?: (line: string) => void, traceCollector?: boolean }} [options]
 * @returns {Promise<{ url: string, devKey: string, port: number, persistDir: string, output: () => string, directUrl: () => Promise<string | null>, stop: () => Promise<void> }>}
 */
export async function startLocalServer(options = {}) {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const startedAt = performance.now();
  const remainingMs = () => Math.max(1, timeoutMs - (performance.now() - startedAt));
  const dir = mkdtempSync(join(tmpdir(), "satchel-local-"));
  const persistDir = join(dir, "state");
  const devKey = `sat_op_dev_${randomBytes(20).toString("hex")}`;
  const envFile = join(dir, "dev.env");
  // options.vars: extra Worker vars for this server only (e.g. WALLET_SECRET_KEY, NWC timeouts in the wallet tests).
  const extraVars = Object.entries(options.vars ?? {});
  const envLines = [`SATCHEL_ENV=development`, `DEV_OPERATOR_KEY=${devKey}`, ...extraVars.map(([k, v]) => `${k}=${v}`)];
  writeFileSync(envFile, `${envLines.join("\n")}\n`, { mode: 0o600 });
  const env = wranglerEnv(dir, options.traceCollector === true);
  const cleanupDir = () => rmSync(dir, { recursive: true, force: true });

  try {
    await runWrangler(
      ["d1", "migrations", "apply", "satchel", "--local", "--persist-to", persistDir],
      env,
      remainingMs(),
    );
  } catch (e) {
    cleanupDir();
    throw e;
  }

  let entry = [];
  if (options.snapshot !== false) {
    const bundleDir = join(dir, "bundle");
    try {
      await runWrangler(["deploy", "--dry-run", "--outdir", bundleDir], env, remainingMs());
    } catch (e) {
      cleanupDir();
      throw e;
    }
    entry = ["--config", join(ROOT, "wrangler.jsonc"), "--no-bundle", join(bundleDir, "index.js")];
  }

  const port = options.port ?? (await freePort());
  const inspectorPort = options.inspectorPort ?? (await freePort());
  const args = [
    WRANGLER,
    "dev",
    ...entry,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistDir,
    "--env-file",
    envFile,
    "--var",
    "SATCHEL_ENV:development",
    "--var",
    `DEV_OPERATOR_KEY:${devKey}`,
    ...extraVars.flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    "--show-interactive-dev-session=false",
    "--log-level",
    options.logLevel ?? "log",
  ];
  // detached: wrangler and its workerd children get a process group of their own, killed as one.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const out = outputBuffer();
  const onParentExit = () => killGroup(child, "SIGKILL");
  process.on("exit", onParentExit);

  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onParentExit);
    killGroup(child, "SIGTERM");
    const deadline = setTimeout(() => killGroup(child, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(deadline);
    // workerd may outlive wrangler for a moment; make sure the whole group is gone.
    killGroup(child, "SIGKILL");
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // group already empty
    }
    cleanupDir();
  };

  // Below info, wrangler prints no "Ready on" line: then readiness is seen by polling /health.
  const quiet = ["warn", "error", "none"].includes(options.logLevel ?? "log");
  let polling = quiet;
  const readyUrl = new Promise((resolveReady, reject) => {
    if (quiet) {
      void (async () => {
        while (polling) {
          const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return resolveReady(`http://127.0.0.1:${port}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
    }
    const onData = (chunk) => {
      for (const line of out.push(chunk)) {
        if (options.log && line.trim()) options.log(line);
        const m = READY.exec(line);
        if (m) resolveReady(m[1].replace(/\/$/, ""));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (c) => out.push(c));
    child.once("error", reject);
    exited.then(({ code, signal }) => reject(new Error(`wrangler dev exited early (${code ?? signal})`)));
  });

  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Satchel was not ready within ${timeoutMs} ms (migrations, bundle and wrangler dev)`)),
      remainingMs(),
    );
  });
  try {
    const printed = await Promise.race([readyUrl, deadline]).finally(() => {
      polling = false;
    });
    const url = `http://127.0.0.1:${port}`;
    if (!printed.endsWith(`:${port}`)) throw new Error(`wrangler dev is on ${printed}, expected port ${port}`);
    const health = await Promise.race([fetch(`${url}/health`), deadline]);
    const body = await health.json();
    if (health.status !== 200 || body?.ok !== true) {
      throw new Error(`/health answered ${health.status} ${JSON.stringify(body)}`);
    }
    clearTimeout(timer);
    let direct;
    const directUrl = () => (direct ??= workerSocketUrl(child.pid, port));
    return { url, devKey, port, persistDir, output: () => out.text(), directUrl, stop };
  } catch (e) {
    clearTimeout(timer);
    await stop();
    throw new Error(
      `Satchel local server failed to start: ${e instanceof Error ? e.message : e}\n--- wrangler output ---\n${out.text()}`,
      { cause: e },
    );
  }
}

/**
 * The Worker's own socket inside `wrangler dev`, for benchmarks that measure Satchel rather than the
 * dev server. wrangler's public port is served by its ProxyWorker: a Durable Object in a second
 * workerd that queues each request (for hot reloads) and forwards it with fetch to the workerd
 * running Satchel. That hop exists only in development and costs about as much CPU per request as
 * Satchel's MCP layer. wrangler does not print the inner address, so it is found the way `ss -ltnp`
 * would: the loopback TCP sockets listened on by processes of wrangler's process group, each asked
 * for /health. Linux only (it reads /proc); null elsewhere or when no socket answers as Satchel.
 */
async function workerSocketUrl(groupId, publicPort) {
  if (process.platform !== "linux") return null;
  const inodes = new Set();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      // Field 5 of /proc/<pid>/stat is the process group; the name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== groupId) continue;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      }
    } catch {
      // the process ended while we looked
    }
  }
  const ports = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address 127.0.0.1 (0100007F, little-endian hex), state 0A = LISTEN, column 10 = inode
    if (f.length < 10 || f[3] !== "0A" || !f[1].startsWith("0100007F:") || !inodes.has(f[9])) continue;
    const p = parseInt(f[1].slice(9), 16);
    if (p !== publicPort) ports.push(p);
  }
  for (const p of ports.sort((a, b) => a - b)) {
    const url = `http://127.0.0.1:${p}`;
    const body = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => (r.ok ? r.json() : null),
      () => null,
    );
    if (body?.ok === true && body.service === "satchel") return url;
  }
  return null;
}
