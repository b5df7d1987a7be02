// X402 counterparts for the e2e tests, on the official packages:
//   - a local USDC "chain": the FacilitatorEvmSigner the @x402/evm facilitator schemes run on, with no
//     RPC: EIP-3009 transferWithAuthorization checked with viem (EIP-712 signature recovery, validity
//     window, unused nonce, balance) and applied to in-memory balances; every settlement is recorded;
//   - a local facilitator: @x402/core's x402Facilitator with @x402/evm's exact schemes (v2 and v1)
//     registered on that chain (so verify/settle are the SDK's own checks), exposed as a FacilitatorClient;
//   - X402 v2: a Hono app behind @x402/hono's paymentMiddleware (PAYMENT-REQUIRED, PAYMENT-SIGNATURE,
//     PAYMENT-RESPONSE) with @x402/evm's exact server scheme pricing "$0.01" in USDC;
//   - X402 v1: @x402/hono 2.x only speaks v2, so the v1 server follows the v1 wire format by hand (JSON
//     body `accepts` with maxAmountRequired, X-PAYMENT, X-PAYMENT-RESPONSE) and verifies and settles
//     through the same facilitator's v1 scheme, with @x402/core/http's header codecs;
//   - X402 Lightning `exact` (bip122 network, invoice in extra): invoices from the running Satchel's
//     fake merchant node; a payment is accepted when its preimage hashes to the invoice's payment hash.
import { x402Facilitator } from "@x402/core/facilitator";
import {
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
} from "@x402/core/http";
import type { FacilitatorClient } from "@x402/core/server";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import type { FacilitatorEvmSigner } from "@x402/evm";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/hono";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { Hono } from "hono";
import {
  decodeFunctionData,
  encodeFunctionResult,
  getAddress,
  keccak256,
  parseAbi,
  serializeSignature,
  toHex,
  verifyTypedData,
  type Hex,
} from "viem";
import type { InvoiceSource } from "./paywalls";

/** USDC as the SDK knows it (its default assets), per CAIP-2 network. */
export const USDC_TOKENS = {
  "eip155:84532": {
    address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    name: "USDC",
    version: "2",
    chainId: 84532,
    v1: "base-sepolia",
  },
  "eip155:8453": {
    address: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    name: "USD Coin",
    version: "2",
    chainId: 8453,
    v1: "base",
  },
} as const;
type UsdcNetwork = keyof typeof USDC_TOKENS;

const AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

export interface Settlement {
  network: UsdcNetwork;
  from: string;
  to: string;
  value: bigint;
  nonce: string;
  validBefore: bigint;
  transaction: string;
}

/** In-memory USDC balances and EIP-3009 nonces, checked like the token contract does. */
export class LocalUsdcChain implements FacilitatorEvmSigner {
  readonly settlements: Settlement[] = [];
  private readonly balances = new Map<string, bigint>();
  private readonly usedNonces = new Set<string>();

  constructor(readonly facilitatorAddress: `0x${string}` = "0x000000000000000000000000000000000000fac1") {}

  private token(address: string): { network: UsdcNetwork; t: (typeof USDC_TOKENS)[UsdcNetwork] } {
    for (const [network, t] of Object.entries(USDC_TOKENS) as [UsdcNetwork, (typeof USDC_TOKENS)[UsdcNetwork]][]) {
      if (t.address.toLowerCase() === address.toLowerCase()) return { network, t };
    }
    throw new Error(`execution reverted: no contract at ${address}`);
  }

  private key(network: UsdcNetwork, who: string) {
    return `${network}:${who.toLowerCase()}`;
  }

  mint(network: UsdcNetwork, who: string, atomic: bigint): void {
    this.balances.set(this.key(network, who), this.balanceOf(network, who) + atomic);
  }

  balanceOf(network: UsdcNetwork, who: string): bigint {
    return this.balances.get(this.key(network, who)) ?? 0n;
  }

  getAddresses(): readonly `0x${string}`[] {
    return [this.facilitatorAddress];
  }

  async getCode(args: { address: `0x${string}` }): Promise<`0x${string}` | undefined> {
    // The tokens are contracts; everyone else is an externally owned account.
    return Object.values(USDC_TOKENS).some((t) => t.address.toLowerCase() === args.address.toLowerCase())
      ? "0x6080604052"
      : "0x";
  }

  async verifyTypedData(args: {
    address: `0x${string}`;
    domain: Record<string, unknown>;
    types: Record<string, unknown>;
    primaryType: string;
    message: Record<string, unknown>;
    signature: `0x${string}`;
  }): Promise<boolean> {
    return verifyTypedData(args as Parameters<typeof verifyTypedData>[0]);
  }

  /** transferWithAuthorization's checks: signature (EIP-712, viem), window, nonce, balance. Throws like a revert. */
  private async check(tokenAddress: string, args: readonly unknown[]) {
    const { network, t } = this.token(tokenAddress);
    const [from, to, value, validAfter, validBefore, nonce] = args as [Hex, Hex, bigint, bigint, bigint, Hex];
    const sig =
      args.length === 9
        ? serializeSignature({ v: BigInt(args[6] as number), r: args[7] as Hex, s: args[8] as Hex })
        : (args[6] as Hex);
    const ok = await verifyTypedData({
      address: from,
      domain: { name: t.name, version: t.version, chainId: t.chainId, verifyingContract: getAddress(t.address) },
      types: AUTHORIZATION_TYPES,
      primaryType: "TransferWithAuthorization",
      message: { from, to, value, validAfter, validBefore, nonce },
      signature: sig,
    });
    if (!ok) throw new Error("execution reverted: FiatTokenV2: invalid signature");
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (now <= validAfter) throw new Error("execution reverted: FiatTokenV2: authorization is not yet valid");
    if (now >= validBefore) throw new Error("execution reverted: FiatTokenV2: authorization is expired");
    if (this.usedNonces.has(`${network}:${from.toLowerCase()}:${nonce}`)) {
      throw new Error("execution reverted: FiatTokenV2: authorization is used or canceled");
    }
    if (this.balanceOf(network, from) < value)
      throw new Error("execution reverted: ERC20: transfer amount exceeds balance");
    return { network, from, to, value, nonce, validBefore };
  }

  async readContract(args: {
    address: `0x${string}`;
    abi: readonly unknown[];
    functionName: string;
    args?: readonly unknown[];
  }): Promise<unknown> {
    const a = args.args ?? [];
    switch (args.functionName) {
      case "transferWithAuthorization": // the facilitator's simulation (eth_call)
        await this.check(args.address, a);
        return undefined;
      case "balanceOf":
        return this.balanceOf(this.token(args.address).network, a[0] as string);
      case "name":
        return this.token(args.address).t.name;
      case "version":
        return this.token(args.address).t.version;
      case "authorizationState": {
        const { network } = this.token(args.address);
        return this.usedNonces.has(`${network}:${(a[0] as string).toLowerCase()}:${a[1] as string}`);
      }
      case "tryAggregate": // Multicall3, only used to diagnose a failed simulation: report every call as failed
        return (a[1] as unknown[]).map(() => ({ success: false, returnData: "0x" }));
      default:
        throw new Error(`execution reverted: ${args.functionName} is not implemented by the local chain`);
    }
  }

  async writeContract(args: {
    address: `0x${string}`;
    abi: readonly unknown[];
    functionName: string;
    args: readonly unknown[];
  }): Promise<`0x${string}`> {
    if (args.functionName !== "transferWithAuthorization") throw new Error(`unsupported call ${args.functionName}`);
    const c = await this.check(args.address, args.args);
    this.usedNonces.add(`${c.network}:${c.from.toLowerCase()}:${c.nonce}`);
    this.balances.set(this.key(c.network, c.from), this.balanceOf(c.network, c.from) - c.value);
    this.mint(c.network, c.to, c.value);
    const transaction = keccak256(toHex(`${c.network}:${c.from}:${c.nonce}`));
    this.settlements.push({ ...c, transaction });
    return transaction;
  }

  async sendTransaction(): Promise<`0x${string}`> {
    throw new Error("the local chain deploys no contracts");
  }

  async waitForTransactionReceipt(): Promise<{ status: string }> {
    return { status: "success" };
  }
}

/** @x402/core's facilitator with @x402/evm's exact schemes (v2 on both networks, and v1) on the local chain. */
export function localFacilitator(chain: LocalUsdcChain): { facilitator: x402Facilitator; client: FacilitatorClient } {
  const facilitator = registerExactEvmScheme(new x402Facilitator(), {
    signer: chain,
    networks: Object.keys(USDC_TOKENS) as UsdcNetwork[],
  });
  const client: FacilitatorClient = {
    verify: (p, r) => facilitator.verify(p, r),
    settle: (p, r) => facilitator.settle(p, r),
    getSupported: async () => facilitator.getSupported() as Awaited<ReturnType<FacilitatorClient["getSupported"]>>,
  };
  return { facilitator, client };
}

export interface X402Stats {
  requests: number;
  paid: number;
}

/** X402 v2: @x402/hono's paymentMiddleware, $0.01 in USDC on Base Sepolia for GET /weather. */
export function x402V2Server(facilitator: FacilitatorClient, payTo: string): { app: Hono; stats: X402Stats } {
  const stats: X402Stats = { requests: 0, paid: 0 };
  const app = new Hono();
  app.use("*", async (_c, next) => {
    stats.requests++;
    await next();
  });
  const server = new x402ResourceServer(facilitator).register("eip155:84532", new ExactEvmServerScheme());
  app.use(
    paymentMiddleware(
      {
        "GET /weather": {
          accepts: { scheme: "exact", price: "$0.01", network: "eip155:84532", payTo, maxTimeoutSeconds: 120 },
          description: "Weather, for a cent",
          mimeType: "application/json",
        },
        // More than the payer holds on the local chain: the facilitator refuses it before settling.
        "GET /expensive": {
          accepts: { scheme: "exact", price: "$200", network: "eip155:84532", payTo, maxTimeoutSeconds: 120 },
          description: "Too expensive for the payer's USDC balance",
          mimeType: "application/json",
        },
      },
      server,
    ),
  );
  app.get("/weather", (c) => {
    stats.paid++;
    return c.json({ report: "sunny", paid_with: "x402 v2" });
  });
  app.get("/expensive", (c) => {
    stats.paid++;
    return c.json({ report: "priceless" });
  });
  return { app, stats };
}

/** X402 v1 wire format (JSON `accepts`, X-PAYMENT, X-PAYMENT-RESPONSE), verified and settled by the facilitator's v1 scheme. */
export function x402V1Server(
  facilitator: x402Facilitator,
  payTo: string,
  atomic = "20000",
): { app: Hono; stats: X402Stats } {
  const stats: X402Stats = { requests: 0, paid: 0 };
  const t = USDC_TOKENS["eip155:84532"];
  const app = new Hono();
  app.get("/quote", async (c) => {
    stats.requests++;
    const requirements = {
      scheme: "exact",
      network: t.v1,
      maxAmountRequired: atomic,
      resource: c.req.url,
      description: "A quote, for two cents",
      mimeType: "application/json",
      payTo,
      maxTimeoutSeconds: 120,
      asset: t.address,
      extra: { name: t.name, version: t.version },
    };
    const challenge = (error: string) => c.json({ x402Version: 1, error, accepts: [requirements] }, 402);
    const header = c.req.header("x-payment");
    if (!header) return challenge("X-PAYMENT header is required");
    let payload: PaymentPayload;
    try {
      payload = decodePaymentSignatureHeader(header);
    } catch {
      return challenge("invalid X-PAYMENT header");
    }
    const req = requirements as unknown as PaymentRequirements;
    const verified = await facilitator.verify(payload, req);
    if (!verified.isValid) return challenge(verified.invalidReason ?? "invalid payment");
    const settled = await facilitator.settle(payload, req);
    if (!settled.success) return challenge(settled.errorReason ?? "settlement failed");
    stats.paid++;
    c.header("x-payment-response", encodePaymentResponseHeader(settled));
    return c.json({ quote: "Stay humble, stack sats.", paid_with: "x402 v1" });
  });
  return { app, stats };
}

/** The CAIP-2 id of regtest (its genesis block hash prefix), for X402's Lightning scheme. */
export const BIP122_REGTEST = "bip122:0f9188f13cb7b2c71f2a335e3a4fc328";

/** X402 v2 with the Lightning variant of `exact`: the invoice in extra; paid when the preimage matches. */
export function x402LightningServer(invoices: InvoiceSource, sats = 8): { app: Hono; stats: X402Stats } {
  const stats: X402Stats = { requests: 0, paid: 0 };
  /** invoice → payment hash, for the invoices this server issued. */
  const issued = new Map<string, string>();
  const app = new Hono();
  app.get("/ln/:item", async (c) => {
    stats.requests++;
    const header = c.req.header("payment-signature");
    if (header) {
      try {
        const p = decodePaymentSignatureHeader(header) as unknown as {
          payload: { invoice?: string; preimage?: string };
        };
        const { preimage, invoice } = p.payload;
        const paid = typeof preimage === "string" && typeof invoice === "string" && issued.get(invoice);
        if (paid && /^[0-9a-f]{64}$/.test(preimage) && bytesToHex(sha256(hexToBytes(preimage))) === paid) {
          stats.paid++;
          c.header(
            "payment-response",
            encodePaymentResponseHeader({ success: true, transaction: paid, network: BIP122_REGTEST } as never),
          );
          return c.json({ item: c.req.param("item"), paid_with: "x402 lightning" });
        }
      } catch {
        // a new challenge below
      }
    }
    const made = await invoices.make(sats);
    issued.set(made.invoice, made.paymentHash);
    const required = {
      x402Version: 2,
      error: "payment required",
      resource: { url: c.req.url, description: "An item, paid over Lightning", mimeType: "application/json" },
      accepts: [
        {
          scheme: "exact",
          network: BIP122_REGTEST,
          amount: String(sats * 1000),
          asset: "BTC",
          payTo: "merchant",
          maxTimeoutSeconds: 600,
          extra: { paymentMethod: "lightning", invoice: made.invoice },
        },
      ],
    };
    c.header("payment-required", encodePaymentRequiredHeader(required as never));
    return c.json({}, 402);
  });
  return { app, stats };
}

/** The token functions the JSON-RPC endpoint below answers eth_call for. */
const RPC_ABI = parseAbi([
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function balanceOf(address account) view returns (uint256)",
]);

/**
 * The local chain behind a JSON-RPC endpoint (what BASE_RPC_URL / BASE_SEPOLIA_RPC_URL point at):
 * eth_call of the token's view functions, decoded and encoded with viem and answered from the chain's
 * state. `set({ down: true })` makes it answer 503, as an unreachable node would.
 */
export function rpcServer(chain: LocalUsdcChain): { app: Hono; set(next: { down: boolean }): void; calls(): number } {
  let down = false;
  let calls = 0;
  const app = new Hono();
  app.post("/:network", async (c) => {
    calls++;
    if (down) return c.text("unavailable", 503);
    const req = (await c.req.json()) as { id: number; method: string; params: unknown[] };
    const reply = (body: Record<string, unknown>) => c.json({ jsonrpc: "2.0", id: req.id, ...body });
    if (req.method !== "eth_call") return reply({ error: { code: -32601, message: `${req.method} not supported` } });
    const { to, data } = req.params[0] as { to: `0x${string}`; data: Hex };
    try {
      const call = decodeFunctionData({ abi: RPC_ABI, data });
      const result = await chain.readContract({
        address: to,
        abi: RPC_ABI,
        functionName: call.functionName,
        args: call.args,
      });
      return reply({
        result: encodeFunctionResult({ abi: RPC_ABI, functionName: call.functionName, result } as never),
      });
    } catch (e) {
      return reply({ error: { code: 3, message: e instanceof Error ? e.message : "execution reverted" } });
    }
  });
  return {
    app,
    set: (next) => {
      down = next.down;
    },
    calls: () => calls,
  };
}

/** A CoinGecko-shaped BTC/USD rate server whose price and age the test sets. */
export function rateServer(initial: { usd: number; ageSeconds?: number; status?: number }): {
  app: Hono;
  set(next: { usd: number; ageSeconds?: number; status?: number }): void;
  hits(): number;
} {
  let state = initial;
  let hits = 0;
  const app = new Hono();
  app.get("/api/v3/simple/price", (c) => {
    hits++;
    if (state.status && state.status !== 200) return c.text("unavailable", state.status as 503);
    const last = Math.floor(Date.now() / 1000) - (state.ageSeconds ?? 0);
    return c.json({ bitcoin: { usd: state.usd, last_updated_at: last } });
  });
  return {
    app,
    set: (next) => {
      state = next;
    },
    hits: () => hits,
  };
}
