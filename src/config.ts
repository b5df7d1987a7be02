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
  // Routing fee held back with each payment over a real wallet (NWC, LNbits): ppm of the amount, at least MIN.
  WALLET_FEE_RESERVE_PPM: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  WALLET_FEE_RESERVE_MIN_SATS: z.coerce.number().int().min(0).max(1_000_000).default(1),
  // How long a payment waits for the NWC wallet's reply before it is reported pending (then reconciled).
  NWC_REPLY_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(30_000),
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
  /** Fee reserve of NWC and LNbits payments: ppm of the amount, with a floor in msats. */
  walletFeeReservePpm: number;
  walletFeeReserveMinMsat: number;
  /** Reply timeout of money-moving NWC requests (pay_invoice, pay_keysend); lookups use a shorter one. */
  nwcReplyTimeoutMs: number;
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
    WALLET_FEE_RESERVE_PPM: raw.WALLET_FEE_RESERVE_PPM,
    WALLET_FEE_RESERVE_MIN_SATS: raw.WALLET_FEE_RESERVE_MIN_SATS,
    NWC_REPLY_TIMEOUT_MS: raw.NWC_REPLY_TIMEOUT_MS,
  });
  const development = parsed.SATCHEL_ENV === "development";
  const config: Config = {
    development,
    walletBackend: parsed.WALLET_BACKEND,
    fakeWalletStartMsat: parsed.FAKE_WALLET_START_SATS * 1000,
    network: parsed.BITCOIN_NETWORK,
    devOperatorKey: development ? parsed.DEV_OPERATOR_KEY : undefined,
    walletSecretKey: parsed.WALLET_SECRET_KEY?.trim(),
    walletFeeReservePpm: parsed.WALLET_FEE_RESERVE_PPM,
    walletFeeReserveMinMsat: parsed.WALLET_FEE_RESERVE_MIN_SATS * 1000,
    nwcReplyTimeoutMs: parsed.NWC_REPLY_TIMEOUT_MS,
  };
  cache.set(env, config);
  return config;
}
