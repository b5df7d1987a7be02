import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

const HEX32 = /^[0-9a-f]{64}$/;

/** The payment hash a preimage commits to. */
export function paymentHashOf(preimageHex: string): string {
  return bytesToHex(sha256(hexToBytes(preimageHex)));
}

/** True when the preimage is 32 bytes of hex and sha256(preimage) == paymentHash: proof that the payment happened. */
export function preimageMatches(preimageHex: string, paymentHashHex: string): boolean {
  const preimage = preimageHex.toLowerCase();
  if (!HEX32.test(preimage) || !HEX32.test(paymentHashHex.toLowerCase())) return false;
  return paymentHashOf(preimage) === paymentHashHex.toLowerCase();
}
