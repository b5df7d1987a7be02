import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { SatchelError } from "../errors";

/** The TLV record type wallets and apps read a keysend text message from (Sphinx, Alby, Breez). */
export const KEYSEND_MESSAGE_TLV = 34349334;
export const MAX_KEYSEND_MESSAGE_CHARS = 1000;
const NODE_ID = /^0[23][0-9a-f]{64}$/;

/** Normalises a node public key (compressed secp256k1, 66 hex); refuses anything else. */
export function nodeId(destination: string): string {
  const d = destination.trim().toLowerCase();
  if (!NODE_ID.test(d)) {
    throw new SatchelError(
      "INVALID_INPUT",
      "destination must be a node public key: 66 hex characters starting 02 or 03.",
    );
  }
  return d;
}

/** The custom records of a keysend: the message, if any, as TLV 34349334 (UTF-8, hex-encoded). */
export function keysendRecords(message: string | undefined): { type: number; value: string }[] {
  if (message === undefined || message.length === 0) return [];
  if ([...message].length > MAX_KEYSEND_MESSAGE_CHARS) {
    throw new SatchelError("INVALID_INPUT", `The message is longer than ${MAX_KEYSEND_MESSAGE_CHARS} characters.`);
  }
  return [{ type: KEYSEND_MESSAGE_TLV, value: bytesToHex(utf8ToBytes(message)) }];
}
