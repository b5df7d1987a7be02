// X402 `exact` on EVM networks: USDC on Base and Base Sepolia, an EIP-3009 transferWithAuthorization
// signed with the operator's key (configure_x402) by the official @x402/evm client scheme. The agent
// pays in sats: the USDC price is converted at the BTC/USD rate (src/paywall/rate.ts) plus the
// spread, and those sats are reserved in the agent's ledger before the signed authorization leaves
// Satchel; they are spent when the API answers the paid request, released when it refuses it.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { SatchelError } from "../errors";
import { paywallConfig } from "./config";
import { caip2Of, EVM_NETWORKS, signingKey, x402KeyView, type EvmNetwork } from "./evm-key";
import type { Authorization } from "./evm-sign";
import type { FetchedResponse } from "./http";
import { btcUsdRate, formatUsdc, usdcToMsat } from "./rate";
import { usdcReference } from "./usdc-chain";
import { blankQuote, type X402Host, type X402Offer, type X402Paid, type X402Quote, type X402Requirement } from "./x402";

/** USDC per network (the EIP-712 domain of its EIP-3009 signatures); the only asset Satchel pays. */
export const USDC: Record<EvmNetwork, { address: string; name: string; version: string }> = {
  "eip155:8453": { address: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", name: "USD Coin", version: "2" },
  "eip155:84532": { address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", name: "USDC", version: "2" },
};

/** At most $1 000 000 in one payment: larger amounts are not a paywall price. */
const MAX_ATOMIC = 1_000_000_000_000n;

function refuse(code: "UNSUPPORTED_CHALLENGE" | "INVALID_CHALLENGE", message: string): SatchelError {
  return new SatchelError(code, message, { hint: "Nothing was paid." });
}

/** Why one EVM requirement cannot be paid, before looking at keys and rates; null when it can. */
function shapeProblem(r: X402Requirement): SatchelError | null {
  const id = caip2Of(r.network);
  if (!id)
    return refuse(
      "UNSUPPORTED_CHALLENGE",
      `X402 on ${r.network.slice(0, 40)} is not supported (Base and Base Sepolia are).`,
    );
  if (r.asset.toLowerCase() !== USDC[id].address.toLowerCase()) {
    return refuse(
      "UNSUPPORTED_CHALLENGE",
      `Only USDC is paid on ${EVM_NETWORKS[id].label} (the API asks for ${r.asset.slice(0, 42)}).`,
    );
  }
  const method = r.extra.assetTransferMethod;
  if (method !== undefined && method !== "eip3009") {
    return refuse("UNSUPPORTED_CHALLENGE", "Only EIP-3009 (transferWithAuthorization) USDC payments are signed.");
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(r.payTo))
    return refuse("INVALID_CHALLENGE", "The payment's recipient is not an EVM address.");
  if (!/^\d{1,16}$/.test(r.amount.trim()) || BigInt(r.amount.trim()) <= 0n || BigInt(r.amount.trim()) > MAX_ATOMIC) {
    return refuse("INVALID_CHALLENGE", "The USDC amount is not a positive whole number of atomic units.");
  }
  return null;
}

/**
 * Chooses among the EVM options (a supported network the operator configured, USDC) and prices the
 * choice in sats. A refusal is returned, not thrown, so dry_run can report it.
 */
export async function quoteEvm(host: X402Host, offer: X402Offer, candidates: X402Requirement[]): Promise<X402Quote> {
  const env = host.ctx.env;
  const key = await x402KeyView(env, host.ctx.operatorId);
  const usable = candidates.filter((r) => shapeProblem(r) === null);
  const configured = usable.filter((r) => key?.networks.includes(caip2Of(r.network)!));
  const r = configured[0] ?? usable[0] ?? candidates[0]!;
  const base = blankQuote(offer, r, "x402");
  const problem = shapeProblem(r);
  if (problem) return { ...base, refusal: problem };
  const id = caip2Of(r.network)!;
  const atomic = BigInt(r.amount.trim());
  const usdcAmount = formatUsdc(atomic);
  const cfg = paywallConfig(env);
  let refusal: SatchelError | null = null;
  if (!key) {
    refusal = new SatchelError(
      "WALLET_NOT_CONFIGURED",
      "X402 over USDC is not configured: the operator has no EVM key.",
      {
        hint: "Nothing was paid. The operator sets one with configure_x402.",
      },
    );
  } else if (!key.networks.includes(id)) {
    refusal = new SatchelError("WALLET_NOT_CONFIGURED", `X402 is not configured for ${EVM_NETWORKS[id].label}.`, {
      hint: "Nothing was paid. The operator adds the network with configure_x402.",
    });
  }
  let btcUsd: number | null = null;
  let priceMsat: number | null = null;
  try {
    const rate = await btcUsdRate(cfg.rateSourceUrl);
    btcUsd = rate.usd;
    priceMsat = usdcToMsat(atomic, rate.usd, cfg.spreadPercent);
  } catch (e) {
    if (!(e instanceof SatchelError)) throw e;
    refusal = refusal ?? e;
  }
  if (!refusal && priceMsat !== null && priceMsat > host.maxMsat) {
    refusal = new SatchelError(
      "AMOUNT_TOO_LARGE",
      `The API asks ${usdcAmount} USDC = ${priceMsat / 1000} sats, above max_payment_sats ${Math.floor(host.maxMsat / 1000)}.`,
      {
        hint: "Nothing was paid. Raise max_payment_sats if the price is acceptable.",
        details: { limit: "max_payment_sats", price_sats: priceMsat / 1000, usdc_amount: usdcAmount },
      },
    );
  }
  return { ...base, priceMsat, usdcAmount, btcUsd, spreadPercent: cfg.spreadPercent, refusal };
}

/** The requirement as the client scheme needs it: USDC's EIP-712 domain filled in when the API left it out. */
function forSigning(r: X402Requirement, id: EvmNetwork): Record<string, unknown> {
  const extra = r.extra;
  if (typeof extra.name === "string" && typeof extra.version === "string") return r.raw;
  return { ...r.raw, extra: { ...extra, name: USDC[id].name, version: USDC[id].version } };
}

/** Signs the quoted requirement with the operator's key through the official client schemes (./evm-sign). */
async function sign(
  host: X402Host,
  q: X402Quote,
  id: EvmNetwork,
): Promise<{ header: { name: string; value: string }; auth: Authorization }> {
  const privateKey = await signingKey(host.ctx.env, host.ctx.operatorId);
  const { signExact } = await import("./evm-sign");
  const r = q.requirement;
  let signed: Awaited<ReturnType<typeof signExact>>;
  try {
    signed = await signExact({
      privateKey,
      version: q.offer.version,
      paymentRequired: q.offer.paymentRequired,
      requirement: forSigning(r, id),
      network: id,
      v1Network: EVM_NETWORKS[id].v1,
    });
  } catch (e) {
    throw new SatchelError("INVALID_CHALLENGE", "The X402 requirements could not be signed.", {
      hint: "Nothing was paid.",
      details: { reason: e instanceof Error ? e.message.slice(0, 160) : "unknown" },
    });
  }
  const auth = signed.authorization;
  // What was signed must be exactly what was quoted: amount, recipient, a fresh nonce, an expiry.
  if (
    !auth ||
    auth.value !== r.amount.trim() ||
    auth.to.toLowerCase() !== r.payTo.toLowerCase() ||
    !/^0x[0-9a-fA-F]{64}$/.test(auth.nonce) ||
    !/^\d{1,12}$/.test(auth.validBefore)
  ) {
    throw new SatchelError("INTERNAL", "The signed authorization does not match the quote.", {
      hint: "Nothing was paid.",
    });
  }
  return { header: signed.header, auth };
}

/** Why a 402 to a paid request was refused, from its PAYMENT-REQUIRED error or JSON body. */
function refusalReason(res: FetchedResponse): string | null {
  const header = res.headers.get("payment-required");
  const read = (text: string) => {
    try {
      const v = JSON.parse(text) as { error?: unknown };
      return typeof v.error === "string" ? v.error.slice(0, 160) : null;
    } catch {
      return null;
    }
  };
  if (header) {
    try {
      const r = read(atob(header.trim()));
      if (r) return r;
    } catch {
      // not base64
    }
  }
  return res.body.byteLength <= 65_536 ? read(new TextDecoder().decode(res.body)) : null;
}

/** What an agent should do about a USDC payment whose outcome is unknown. */
function pendingHint(auth: Authorization): string {
  const expiry = new Date(Number(auth.validBefore) * 1000).toISOString();
  return (
    "Do not pay again. The sats stay reserved until Satchel reads the outcome from the chain: spent if the API " +
    `settled the authorization, released if it was still unused when it expired (${expiry}); check get_transactions.`
  );
}

/**
 * Pays a quoted EVM offer: sign, reserve the sats (payment hash = sha256 of the authorization's
 * nonce, expiry = its validBefore), send the paid request, then settle on the paid answer or release
 * when the API refused the payment before settling it.
 */
export async function payEvm(host: X402Host, res: FetchedResponse, q: X402Quote): Promise<X402Paid> {
  if (q.refusal) throw q.refusal;
  const r = q.requirement;
  const id = caip2Of(r.network)!;
  const at = res.url;
  const { header, auth } = await sign(host, q, id);
  const paymentHash = bytesToHex(sha256(hexToBytes(auth.nonce.slice(2))));
  const { paymentId } = await host.reserveExternal({
    paymentHash,
    amountMsat: q.priceMsat!,
    expiresAt: Number(auth.validBefore),
    reference: usdcReference({
      network: id,
      asset: r.asset,
      amount: r.amount.trim(),
      payTo: r.payTo,
      nonce: auth.nonce,
      authorizer: auth.from,
    }),
    memo: `X402 ${host.req.method} ${at.pathname} (${q.usdcAmount} USDC)`,
    host: at.host,
  });
  const headers = { ...host.spec.headers, [header.name]: header.value };
  let response: FetchedResponse;
  const tries = { count: 0 };
  try {
    response = await host.sendPaid(at, { ...host.spec, headers }, tries);
  } catch (e) {
    // The API got the signed authorization and may have settled it: the sats stay reserved.
    throw new SatchelError(
      "PAYMENT_PENDING",
      "The API did not answer the paid X402 request; whether it settled the payment is unknown.",
      {
        hint: pendingHint(auth),
        details: {
          reason:
            e instanceof SatchelError ? ((e.details as { reason?: string } | undefined)?.reason ?? e.code) : "network",
          payment_id: paymentId,
          payment_hash: paymentHash,
        },
      },
    );
  }
  const { readSettlement } = await import("./evm-sign");
  const settlement = readSettlement((name) => response.headers.get(name));
  const settled = settlement ? settlement.success : response.status >= 200 && response.status < 300;
  if (!settled && tries.count > 1) {
    // An earlier attempt that failed on the network may have reached the API and been settled: a
    // refusal now (the nonce already used, say) proves nothing. The sats stay reserved.
    throw new SatchelError(
      "PAYMENT_PENDING",
      "The API refused the X402 payment after an attempt that may have settled it.",
      {
        hint: pendingHint(auth),
        details: {
          reason: "refused_after_retry",
          http_status: response.status,
          payment_id: paymentId,
          payment_hash: paymentHash,
        },
      },
    );
  }
  if (!settled) {
    await host.settleExternal(
      paymentId,
      "failed",
      settlement?.errorReason ?? `HTTP ${response.status} to the paid request`,
    );
    if (response.status === 402) {
      throw new SatchelError("UPSTREAM_ERROR", "The API refused the signed X402 payment before settling it.", {
        hint: "Nothing was spent: the reserved sats were released.",
        details: {
          reason: "payment_refused",
          paid: false,
          api_error: refusalReason(response) ?? settlement?.errorReason ?? null,
        },
      });
    }
  } else {
    await host.settleExternal(paymentId, "succeeded");
  }
  return { response, protocol: "x402", usdcAmount: q.usdcAmount, btcUsd: q.btcUsd, spreadPercent: q.spreadPercent };
}
