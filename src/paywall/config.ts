// The paywall's settings, parsed once from the Worker environment (vars and secrets). Kept beside the
// code that uses them; the shape matches src/config.ts so the two can be merged.
import { z } from "zod";
import { getConfig } from "../config";
import type { EvmNetwork } from "./evm-key";

/**
 * Development-only L402 root key, used when L402_ROOT_KEY is not set and SATCHEL_ENV=development.
 * Public on purpose: it protects fake money only. Production refuses to issue challenges without
 * a real secret.
 */
export const DEV_L402_ROOT_KEY = "satchel-development-l402-root-key-not-secret";
/** CoinGecko's simple price, with the time it was observed (so a stale price is seen as stale). */
export const DEFAULT_RATE_SOURCE_URL =
  "https://api.coingecko.com/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true";

/** Public JSON-RPC endpoints run by Base, for reading USDC authorization state (rate-limited; set your own). */
export const DEFAULT_BASE_RPC_URL = "https://mainnet.base.org";
export const DEFAULT_BASE_SEPOLIA_RPC_URL = "https://sepolia.base.org";

const Schema = z.object({
  L402_ROOT_KEY: z.string().min(32).max(512).optional(),
  RATE_SOURCE_URL: z.url().default(DEFAULT_RATE_SOURCE_URL),
  BASE_RPC_URL: z.url().default(DEFAULT_BASE_RPC_URL),
  BASE_SEPOLIA_RPC_URL: z.url().default(DEFAULT_BASE_SEPOLIA_RPC_URL),
  X402_SPREAD_PERCENT: z.coerce.number().min(0).max(20).default(1),
});

export interface PaywallConfig {
  /** Master secret every L402 root key is derived from; null when challenges cannot be issued. */
  l402RootKey: string | null;
  /** Answers `{"bitcoin":{"usd":N}}` (CoinGecko's simple-price shape). */
  rateSourceUrl: string;
  /** Added to the converted sats price of an X402 USDC payment, in percent. */
  spreadPercent: number;
  /** JSON-RPC endpoint per network, asked whether an X402 USDC payment whose answer was lost settled. */
  evmRpcUrls: Record<EvmNetwork, string>;
}

const cache = new WeakMap<object, PaywallConfig>();

export function paywallConfig(env: Env): PaywallConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const raw = env as unknown as Record<string, unknown>;
  const blank = (v: unknown) => (v === "" ? undefined : v);
  const p = Schema.parse({
    L402_ROOT_KEY: blank(raw.L402_ROOT_KEY),
    RATE_SOURCE_URL: blank(raw.RATE_SOURCE_URL),
    X402_SPREAD_PERCENT: blank(raw.X402_SPREAD_PERCENT),
    BASE_RPC_URL: blank(raw.BASE_RPC_URL),
    BASE_SEPOLIA_RPC_URL: blank(raw.BASE_SEPOLIA_RPC_URL),
  });
  const c: PaywallConfig = {
    l402RootKey: p.L402_ROOT_KEY ?? (getConfig(env).development ? DEV_L402_ROOT_KEY : null),
    rateSourceUrl: p.RATE_SOURCE_URL,
    spreadPercent: p.X402_SPREAD_PERCENT,
    evmRpcUrls: { "eip155:8453": p.BASE_RPC_URL, "eip155:84532": p.BASE_SEPOLIA_RPC_URL },
  };
  cache.set(env, c);
  return c;
}
