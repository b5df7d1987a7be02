// The operator's EVM key for X402 over USDC (configure_x402): validated, sealed with the wallet
// secret key (src/wallet/connection.ts) before it reaches D1 (`x402_keys`, migrations/0021), and
// opened only to sign one payment. The key is never returned, logged or echoed in an error.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { SatchelError } from "../errors";
import { openSecret, sealSecret } from "../wallet/connection";

/** The networks X402 over USDC is paid on, by CAIP-2 id (v2) with their v1 names. */
export const EVM_NETWORKS = {
  "eip155:8453": { v1: "base", label: "Base" },
  "eip155:84532": { v1: "base-sepolia", label: "Base Sepolia" },
} as const;
export type EvmNetwork = keyof typeof EVM_NETWORKS;

const PURPOSE = "x402-evm-key";

/** What may be shown about the configured key: its address and networks, never the key. */
export interface X402KeyView {
  address: string;
  networks: EvmNetwork[];
  updatedAt: number;
}

/** A CAIP-2 id or v1 name of a supported network → its CAIP-2 id; null for anything else. */
export function caip2Of(network: string): EvmNetwork | null {
  const n = network.trim().toLowerCase();
  for (const [id, v] of Object.entries(EVM_NETWORKS) as [EvmNetwork, (typeof EVM_NETWORKS)[EvmNetwork]][]) {
    if (n === id || n === v.v1) return id;
  }
  return null;
}

function normaliseKey(raw: string): `0x${string}` {
  const hex = raw.trim().replace(/^0x/i, "").toLowerCase();
  // Never echo the input: it is the secret.
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new SatchelError("INVALID_INPUT", "evm_private_key must be 32 bytes of hex (64 characters, 0x optional).");
  }
  return `0x${hex}`;
}

/**
 * The EIP-55 checksummed address of a private key: keccak-256 of the uncompressed public key, last
 * 20 bytes. With the curve and hash Satchel already loads, so configuring needs no EVM library.
 */
export function evmAddress(key: `0x${string}`): string {
  const secret = hexToBytes(key.slice(2));
  if (!secp256k1.utils.isValidSecretKey(secret)) {
    throw new SatchelError("INVALID_INPUT", "evm_private_key is not a valid secp256k1 private key.");
  }
  const hex = bytesToHex(keccak_256(secp256k1.getPublicKey(secret, false).subarray(1)).subarray(12));
  const check = bytesToHex(keccak_256(new TextEncoder().encode(hex)));
  return `0x${[...hex].map((c, i) => (parseInt(check[i]!, 16) >= 8 ? c.toUpperCase() : c)).join("")}`;
}

/** Validates, seals and stores the operator's key (replacing any earlier one). */
export async function configureX402Key(
  env: Env,
  operatorId: string,
  input: { evmPrivateKey: string; networks: string[] },
): Promise<X402KeyView> {
  const key = normaliseKey(input.evmPrivateKey);
  const address = evmAddress(key);
  const networks = [...new Set(input.networks.map((n) => caip2Of(n)))];
  if (networks.length === 0 || networks.some((n) => n === null)) {
    throw new SatchelError(
      "INVALID_INPUT",
      "networks must name Base (eip155:8453, base) or Base Sepolia (eip155:84532, base-sepolia).",
    );
  }
  const sealed = await sealSecret(env, operatorId, PURPOSE, key);
  const now = Date.now();
  await env.DB.prepare(
    `INSERT INTO x402_keys (operator_id, address, key_enc, networks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (operator_id) DO UPDATE SET address = excluded.address, key_enc = excluded.key_enc,
       networks = excluded.networks, updated_at = excluded.updated_at`,
  )
    .bind(operatorId, address, sealed, JSON.stringify(networks), now, now)
    .run();
  return { address, networks: networks as EvmNetwork[], updatedAt: now };
}

interface KeyRow {
  address: string;
  key_enc: string;
  networks: string;
  updated_at: number;
}

async function keyRow(env: Env, operatorId: string): Promise<KeyRow | null> {
  return env.DB.prepare("SELECT address, key_enc, networks, updated_at FROM x402_keys WHERE operator_id = ?")
    .bind(operatorId)
    .first<KeyRow>();
}

/** The operator's configured key (address and networks), or null when X402 over USDC is not set up. */
export async function x402KeyView(env: Env, operatorId: string): Promise<X402KeyView | null> {
  const row = await keyRow(env, operatorId);
  if (!row) return null;
  return { address: row.address, networks: JSON.parse(row.networks) as EvmNetwork[], updatedAt: row.updated_at };
}

/** get_info's x402_ready: the operator configured a key. */
export async function x402Ready(env: Env, operatorId: string): Promise<boolean> {
  return (await keyRow(env, operatorId)) !== null;
}

/** The private key that signs an authorization; only evm.ts calls this, once per payment. */
export async function signingKey(env: Env, operatorId: string): Promise<`0x${string}`> {
  const row = await keyRow(env, operatorId);
  if (!row) {
    throw new SatchelError("WALLET_NOT_CONFIGURED", "X402 over USDC is not configured for this operator.", {
      hint: "The operator configures an EVM key with configure_x402.",
    });
  }
  let key: string;
  try {
    key = await openSecret(env, operatorId, PURPOSE, row.key_enc);
  } catch (e) {
    if (e instanceof SatchelError && e.code === "WALLET_NOT_CONFIGURED") throw e;
    throw new SatchelError(
      "WALLET_NOT_CONFIGURED",
      "The stored X402 key cannot be opened with the current WALLET_SECRET_KEY.",
      {
        hint: "The operator configures the EVM key again with configure_x402.",
      },
    );
  }
  return normaliseKey(key);
}
