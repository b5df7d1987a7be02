// What the chain says about an X402 USDC payment whose answer was lost. The payment is an EIP-3009
// transferWithAuthorization signed by the operator's key; the token contract records every
// authorization it executed (authorizationState(authorizer, nonce)), and refuses one after its
// validBefore. So the chain settles the question the API left open: used → the sats were spent;
// unused → the payment has not happened (and once validBefore has passed, never will). Read with
// viem over the network's JSON-RPC endpoint (BASE_RPC_URL, BASE_SEPOLIA_RPC_URL).
import { msat } from "../money";
import type { PaymentOutcome } from "../wallet/backend";
import { paywallConfig } from "./config";
import { EVM_NETWORKS, type EvmNetwork } from "./evm-key";

/** The `invoice` of a ledger entry for an X402 USDC payment (reserveExternal adds "external:"). */
export function usdcReference(p: {
  network: EvmNetwork;
  asset: string;
  amount: string;
  payTo: string;
  nonce: string;
  authorizer: string;
}): string {
  return `x402:${p.network}:${p.asset}:${p.amount}:${p.payTo}:${p.nonce}:${p.authorizer}`;
}

const ADDRESS = "0x[0-9a-fA-F]{40}";
const REFERENCE = new RegExp(
  `^external:x402:(${Object.keys(EVM_NETWORKS).join("|")}):(${ADDRESS}):(\\d+):(${ADDRESS}):(0x[0-9a-fA-F]{64}):(${ADDRESS})$`,
);

/** The parts of an entry's `invoice` the chain is asked about; null for anything else (older entries too). */
export function parseUsdcReference(
  invoice: string | null,
): { network: EvmNetwork; asset: `0x${string}`; nonce: `0x${string}`; authorizer: `0x${string}` } | null {
  const m = invoice ? REFERENCE.exec(invoice) : null;
  if (!m) return null;
  return {
    network: m[1] as EvmNetwork,
    asset: m[2] as `0x${string}`,
    nonce: m[5] as `0x${string}`,
    authorizer: m[6] as `0x${string}`,
  };
}

const AUTHORIZATION_STATE_ABI = [
  {
    type: "function",
    name: "authorizationState",
    stateMutability: "view",
    inputs: [
      { name: "authorizer", type: "address" },
      { name: "nonce", type: "bytes32" },
    ],
    outputs: [{ name: "", type: "bool" }],
  },
] as const;

/** How long one chain read may take: the reconciler runs in an alarm and tries again later. */
const RPC_TIMEOUT_MS = 10_000;

/**
 * The outcome of an X402 USDC payment as the chain knows it: succeeded when the authorization was
 * used (no preimage: the chain is the proof), unknown when it was not (the reconciler then releases
 * it once validBefore is well past, as for a payment a wallet never saw), pending when the chain
 * could not be asked (no answer is no answer). Null for an entry that is not such a payment.
 */
export async function usdcOutcome(
  env: Env,
  invoice: string | null,
): Promise<PaymentOutcome | { status: "unknown" } | null> {
  const ref = parseUsdcReference(invoice);
  if (!ref) return null;
  try {
    const { createPublicClient, http } = await import("viem");
    const client = createPublicClient({
      transport: http(paywallConfig(env).evmRpcUrls[ref.network], { timeout: RPC_TIMEOUT_MS, retryCount: 0 }),
    });
    const used = await client.readContract({
      address: ref.asset,
      abi: AUTHORIZATION_STATE_ABI,
      functionName: "authorizationState",
      args: [ref.authorizer, ref.nonce],
    });
    return used ? { status: "succeeded", preimage: null, feeMsat: msat(0) } : { status: "unknown" };
  } catch (e) {
    console.warn("usdc authorization state unreadable", {
      network: ref.network,
      error: e instanceof Error ? e.name : "unknown",
    });
    return { status: "pending" };
  }
}
