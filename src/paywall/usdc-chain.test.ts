import { describe, expect, it } from "vitest";
import { parseUsdcReference, usdcReference } from "./usdc-chain";

const parts = {
  network: "eip155:84532",
  asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
  amount: "10000",
  payTo: "0x2222222222222222222222222222222222222222",
  nonce: `0x${"ab".repeat(32)}`,
  authorizer: "0x1111111111111111111111111111111111111111",
} as const;

describe("the ledger reference of an X402 USDC payment", () => {
  it("carries what the chain is asked: network, token, authorizer and nonce", () => {
    expect(parseUsdcReference(`external:${usdcReference(parts)}`)).toEqual({
      network: parts.network,
      asset: parts.asset,
      nonce: parts.nonce,
      authorizer: parts.authorizer,
    });
  });

  it("is not read from anything else: Lightning entries, older references without the authorizer", () => {
    expect(parseUsdcReference(null)).toBeNull();
    expect(parseUsdcReference("lnbcrt10n1…")).toBeNull();
    expect(parseUsdcReference(`keysend:${"02".padEnd(66, "a")}:1000`)).toBeNull();
    const older = `external:x402:${parts.network}:${parts.asset}:${parts.amount}:${parts.payTo}:${parts.nonce}`;
    expect(parseUsdcReference(older)).toBeNull();
    expect(parseUsdcReference(`external:${usdcReference({ ...parts, network: "eip155:1" as never })}`)).toBeNull();
  });
});
