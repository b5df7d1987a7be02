import { applyD1Migrations, env } from "cloudflare:test";

if (!env.TEST_MIGRATIONS) throw new Error("TEST_MIGRATIONS binding missing: see vitest.config.ts");
// Real migrations, applied to the test D1 database before each test file (idempotent).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
