import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";

/** A random identifier with a readable type prefix, e.g. agt_3f9a…; 96 bits make collisions irrelevant. */
export function newId(prefix: "opr" | "agt" | "key" | "ent"): string {
  return `${prefix}_${bytesToHex(randomBytes(12))}`;
}

/** 32 random bytes as hex: preimages, payment secrets, node keys. */
export function random32Hex(): string {
  return bytesToHex(randomBytes(32));
}
