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
                  // The shared wallet scenarios (test/integration/scenarios) run on NWC and LNbits too:
                  // the lab's wallets charge no routing fee, so no fee is reserved and budgets stay
                  // exact to the sat; a wallet that never answers is seen after 2 s, not 30.
                  WALLET_FEE_RESERVE_PPM: "0",
                  WALLET_FEE_RESERVE_MIN_SATS: "0",
                  NWC_REPLY_TIMEOUT_MS: "2000",
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
            // The wallet lab (relay + NWC wallet service, LNbits API) on loopback, started in Node.
            globalSetup: ["test/support/nwc/lab-setup.ts"],
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
