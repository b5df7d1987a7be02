// `npm start`: local D1 migrated, .dev.vars in place, then wrangler dev on http://localhost:8787.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const wrangler = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const run = (args, opts = {}) => spawnSync(process.execPath, [wrangler, ...args], { stdio: "inherit", ...opts });

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example");
}
const migrate = run(["d1", "migrations", "apply", "satchel", "--local"], { env: { ...process.env, CI: "1" } });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const devKey = /^DEV_OPERATOR_KEY=(.+)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1]?.trim();
console.log(`
  Satchel is starting on http://localhost:8787 (fake wallet, local D1 and Durable Objects)
  MCP endpoint:  http://localhost:8787/mcp   (legacy SSE: http://localhost:8787/sse)
  Operator key:  ${devKey ?? "(set DEV_OPERATOR_KEY in .dev.vars)"}   (development only)
`);
const dev = spawn(process.execPath, [wrangler, "dev", "--port", process.env.PORT ?? "8787", ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
