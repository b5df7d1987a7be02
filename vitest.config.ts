import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_DEV_KEY } from "./test/dev-key";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("migrations");
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.jsonc" },
              miniflare: {
                bindings: {
                  SATCHEL_ENV: "development",
                  DEV_OPERATOR_KEY: TEST_DEV_KEY,
                  // base64("satchel-test-wallet-secret-key!!"): seals wallet secrets in the tests.
                  WALLET_SECRET_KEY: "c2F0Y2hlbC10ZXN0LXdhbGxldC1zZWNyZXQta2V5ISE=",
                  TEST_MIGRATIONS: migrations,
                },
                // SELF.fetch is an outbound fetch for miniflare; keep the client IP the rate-limit test sets.
                stripCfConnectingIp: false,
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["src/**/*.test.ts", "test/integration/**/*.test.ts"],
            setupFiles: ["test/integration/apply-migrations.ts"],
          },
        },
        {
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            globalSetup: [
              "test/e2e/global-setup.ts",
              "test/support/nwc/global-setup.ts",
              "test/support/paywall-servers.ts",
            ],
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
