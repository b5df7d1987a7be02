// The only module that loads viem and the @x402 SDK. It is imported dynamically (evm.ts)
// so Worker start-up does not evaluate them, and it imports no Satchel module: a module shared with
// the static graph would be wrapped for lazy start-up by the bundler, which breaks circular imports.
import { x402Client } from "@x402/core/client";
import { x402HTTPClient } from "@x402/core/http";
import type { PaymentPayload, PaymentRequired } from "@x402/core/types";
import type { ClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { ExactEvmSchemeV1 } from "@x402/evm/exact/v1/client";
import { privateKeyToAccount } from "viem/accounts";

/** The EIP-3009 authorization inside an `exact` EVM payload. */
export interface Authorization {
  from: string;
  to: string;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: string;
}

/**
 * Signs one X402 `exact` requirement with the official client schemes (v2: ExactEvmScheme, v1:
 * ExactEvmSchemeV1) and returns the payload, the header that carries it (PAYMENT-SIGNATURE or
 * X-PAYMENT) and the authorization that was signed.
 */
export async function signExact(p: {
  privateKey: `0x${string}`;
  version: 1 | 2;
  /** The decoded PAYMENT-REQUIRED (v2) or 402 body (v1). */
  paymentRequired: Record<string, unknown>;
  /** The requirement to pay, as the server sent it (its domain filled in when absent). */
  requirement: Record<string, unknown>;
  /** CAIP-2 id and v1 name of its network. */
  network: string;
  v1Network: string;
}): Promise<{ payload: PaymentPayload; header: { name: string; value: string }; authorization: Authorization | null }> {
  const account = privateKeyToAccount(p.privateKey);
  const signer: ClientEvmSigner = {
    address: account.address,
    signTypedData: (m) => account.signTypedData(m as Parameters<typeof account.signTypedData>[0]),
  };
  // Satchel enforces its own limits in sats (max_payment_sats, the ledger); the SDK's USD caps are off.
  const client = new x402Client(() => p.requirement as never).setSpendControls(false);
  client.register(p.network as `${string}:${string}`, new ExactEvmScheme(signer));
  client.registerV1(p.v1Network, new ExactEvmSchemeV1(signer));
  client.registerV1(p.network, new ExactEvmSchemeV1(signer));
  const required = {
    ...p.paymentRequired,
    x402Version: p.version,
    accepts: [p.requirement],
  } as unknown as PaymentRequired;
  const payload = await client.createPaymentPayload(required);
  const [name, value] = Object.entries(new x402HTTPClient(client).encodePaymentSignatureHeader(payload))[0]!;
  const authorization = (payload.payload as { authorization?: Authorization }).authorization ?? null;
  return { payload, header: { name: name.toLowerCase(), value }, authorization };
}

/** A decoded PAYMENT-RESPONSE (v2) or X-PAYMENT-RESPONSE (v1); null when absent or unreadable. */
export function readSettlement(
  getHeader: (name: string) => string | null,
): { success: boolean; transaction?: string; errorReason?: string } | null {
  try {
    return new x402HTTPClient(new x402Client()).getPaymentSettleResponse((n) => getHeader(n) ?? undefined) as {
      success: boolean;
      transaction?: string;
      errorReason?: string;
    };
  } catch {
    return null;
  }
}
