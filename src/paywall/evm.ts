// X402 `exact` on EVM networks (USDC on Base and Base Sepolia), signed with the operator's key.
import { SatchelError } from "../errors";
import type { FetchedResponse } from "./http";
import type { X402Host, X402Offer, X402Paid, X402Quote, X402Requirement } from "./x402";

/** CAIP-2 ids (v2) and the v1 names of the networks Satchel pays on. */
const NETWORKS: Record<string, "base" | "base-sepolia"> = {
  "eip155:8453": "base",
  base: "base",
  "eip155:84532": "base-sepolia",
  "base-sepolia": "base-sepolia",
};

export function evmNetworkOf(network: string): "base" | "base-sepolia" | null {
  return NETWORKS[network] ?? null;
}

export async function quoteEvm(_host: X402Host, offer: X402Offer, r: X402Requirement): Promise<X402Quote> {
  return {
    offer,
    requirement: r,
    protocol: "x402",
    priceMsat: null,
    invoice: null,
    usdcAmount: null,
    btcUsd: null,
    spreadPercent: null,
    refusal: new SatchelError("WALLET_NOT_CONFIGURED", "X402 over EVM is not configured."),
  };
}

export async function payEvm(_host: X402Host, _res: FetchedResponse, q: X402Quote): Promise<X402Paid> {
  throw q.refusal ?? new SatchelError("WALLET_NOT_CONFIGURED", "X402 over EVM is not configured.");
}
