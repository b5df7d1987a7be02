import { z } from "zod";
import type { Network } from "./lightning/bolt11";

const NETWORKS = ["bitcoin", "testnet", "signet", "regtest"] as const satisfies readonly Network[];

const ConfigSchema = z.object({
  SATCHEL_ENV: z.enum(["development", "production"]).default("production"),
  WALLET_BACKEND: z.enum(["fake"]).default("fake"),
  FAKE_WALLET_START_SATS: z.coerce.number().int().min(0).max(2_100_000_000_000).default(1_000_000),
  BITCOIN_NETWORK: z.enum(NETWORKS).default("regtest"),
  DEV_OPERATOR_KEY: z.string().min(32).max(200).optional(),
  WALLET_SECRET_KEY: z.string().optional(),
});

/** Everything Satchel reads from its environment, validated once. */
export interface Config {
  development: boolean;
  walletBackend: "fake";
  fakeWalletStartMsat: number;
  network: Network;
  /** Only ever set in development mode; production ignores the variable. */
  devOperatorKey: string | undefined;
  /** Base64 AES-256 key (a Worker secret) sealing wallet secrets at rest; checked by src/wallet/connection.ts. */
  walletSecretKey: string | undefined;
}

const cache = new WeakMap<object, Config>();

/** Parses the Worker environment into Config; the only reader of vars and secrets. */
export function getConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const raw = env as unknown as Record<string, unknown>;
  const parsed = ConfigSchema.parse({
    SATCHEL_ENV: raw.SATCHEL_ENV,
    WALLET_BACKEND: raw.WALLET_BACKEND,
    FAKE_WALLET_START_SATS: raw.FAKE_WALLET_START_SATS,
    BITCOIN_NETWORK: raw.BITCOIN_NETWORK,
    DEV_OPERATOR_KEY: raw.DEV_OPERATOR_KEY === "" ? undefined : raw.DEV_OPERATOR_KEY,
    WALLET_SECRET_KEY: raw.WALLET_SECRET_KEY === "" ? undefined : raw.WALLET_SECRET_KEY,
  });
  const development = parsed.SATCHEL_ENV === "development";
  const config: Config = {
    development,
    walletBackend: parsed.WALLET_BACKEND,
    fakeWalletStartMsat: parsed.FAKE_WALLET_START_SATS * 1000,
    network: parsed.BITCOIN_NETWORK,
    devOperatorKey: development ? parsed.DEV_OPERATOR_KEY : undefined,
    walletSecretKey: parsed.WALLET_SECRET_KEY?.trim(),
  };
  cache.set(env, config);
  return config;
}
