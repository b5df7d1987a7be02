import { bech32 } from "@scure/base";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { decode as parseBolt11 } from "light-bolt11-decoder";
import { SatchelError } from "../errors";
import { MAX_MSAT } from "../money";

export type Network = "bitcoin" | "testnet" | "signet" | "regtest";

export interface DecodedInvoice {
  /** Normalized: lowercase, without a "lightning:" prefix. */
  invoice: string;
  network: Network;
  /** null for zero-amount ("any amount") invoices. */
  amountMsat: number | null;
  paymentHash: string;
  paymentSecret: string | null;
  description: string | null;
  descriptionHash: string | null;
  /** Compressed node pubkey: the `n` field when present, else recovered from the signature. */
  payee: string;
  timestamp: number;
  expirySeconds: number;
  expiresAt: number;
  minFinalCltvExpiry: number;
}

export interface EncodeInvoiceParams {
  network: Network;
  /** Omitted → zero-amount invoice. */
  amountMsat?: number;
  paymentHash: string;
  paymentSecret: string;
  /** Exactly one of description / descriptionHash; an empty description is allowed. */
  description?: string;
  descriptionHash?: string;
  expirySeconds?: number;
  /** Omitted → no `c` field, so readers use the BOLT 11 default of 18. */
  minFinalCltvExpiry?: number;
  timestamp: number;
  privateKey: Uint8Array;
}

/** Agents paste invoices from anywhere; a bound keeps parsing and hashing cheap. */
const MAX_INVOICE_LENGTH = 4096;
const TIMESTAMP_WORDS = 7;
const SIGNATURE_WORDS = 104;
const HASH_WORDS = 52;
const PUBKEY_WORDS = 53;
/** Integer fields (x, c) of more than 50 bits cannot be meant seriously and would lose precision as numbers. */
const MAX_INT_FIELD_WORDS = 10;
/** data_length is 10 bits: 1023 words carry at most 639 whole bytes. */
const MAX_FIELD_BYTES = 639;
const DEFAULT_EXPIRY_SECONDS = 3600;
const DEFAULT_MIN_FINAL_CLTV_EXPIRY = 18;
const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const HEX32 = /^[0-9a-f]{64}$/;

const NETWORK_BY_COIN: Readonly<Record<string, Network>> = {
  bc: "bitcoin",
  tb: "testnet",
  tbs: "signet",
  bcrt: "regtest",
};
const COIN_BY_NETWORK: Readonly<Record<Network, string>> = {
  bitcoin: "bc",
  testnet: "tb",
  signet: "tbs",
  regtest: "bcrt",
};

/**
 * Even feature bits defined in BOLT 9. An even ("required") bit outside this set means the payee
 * demands something no implementation of the spec understands, so the invoice cannot be paid.
 */
const KNOWN_EVEN_FEATURE_BITS: ReadonlySet<number> = new Set([
  0, 4, 6, 8, 10, 12, 14, 16, 18, 22, 24, 26, 28, 34, 36, 38, 42, 44, 46, 48, 50, 60, 62,
]);
/** var_onion_optin (8) and payment_secret (14), both required: what every modern payer expects. */
const INVOICE_FEATURE_BITS = [8, 14] as const;

/** Tags this module reads; for repeats the first wins, as the spec ranks fields by preference and payers use the first. */
const READ_TAGS = new Set(["p", "s", "d", "h", "n", "x", "c", "9"]);
/** Tags whose data length is fixed by the spec (#1243: a wrong length fails the invoice). */
const FIXED_TAG_WORDS: Readonly<Record<string, number>> = {
  p: HASH_WORDS,
  s: HASH_WORDS,
  h: HASH_WORDS,
  n: PUBKEY_WORDS,
};

const INVOICE_HINT = "Pass a BOLT 11 payment request starting with lnbc… (or lntb…, lntbs…, lnbcrt… off mainnet).";

/** The shape every decoder section satisfies; its published union type omits several tags. */
interface RawSection {
  name: string;
  tag?: string;
  letters?: string;
  value?: unknown;
}

interface TaggedField {
  section: RawSection;
  words: number[];
}

function invalidInvoice(message: string): SatchelError {
  return new SatchelError("INVALID_INVOICE", message, { hint: INVOICE_HINT });
}

function invalidInput(message: string): SatchelError {
  return new SatchelError("INVALID_INPUT", message);
}

/** Regroups bits; strict mode enforces the BIP 173 padding rules so distinct strings never decode to the same bytes. */
function regroup(values: readonly number[], from: number, to: number, pad: boolean): number[] {
  const out: number[] = [];
  const mask = (1 << to) - 1;
  let acc = 0;
  let bits = 0;
  for (const v of values) {
    acc = ((acc << from) | v) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & mask);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & mask);
  } else if (bits >= from || ((acc << (to - bits)) & mask) !== 0) {
    throw new Error("bad padding");
  }
  return out;
}

function wordsToBytes(words: readonly number[], pad: boolean): Uint8Array {
  return Uint8Array.from(regroup(words, 5, 8, pad));
}

function bytesToWords(bytes: Uint8Array): number[] {
  return regroup(Array.from(bytes), 8, 5, true);
}

function wordsToInt(words: readonly number[]): number {
  return words.reduce((n, w) => n * 32 + w, 0);
}

function intToWords(value: number, minWords = 0): number[] {
  const words: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 32)) words.unshift(n % 32);
  while (words.length < minWords) words.unshift(0);
  return words;
}

/**
 * Walks the data words alongside the decoder's sections: the decoder does not notice a field
 * whose declared length runs past the signature, so framing is re-checked here.
 */
function frameTaggedFields(dataWords: readonly number[], sections: readonly RawSection[]): TaggedField[] {
  const fields: TaggedField[] = [];
  let offset = TIMESTAMP_WORDS;
  for (const section of sections) {
    if (section.tag === undefined) continue;
    const code = dataWords[offset];
    const hi = dataWords[offset + 1];
    const lo = dataWords[offset + 2];
    if (code === undefined || hi === undefined || lo === undefined) throw invalidInvoice("Invoice is truncated");
    const length = hi * 32 + lo;
    const end = offset + 3 + length;
    if (end > dataWords.length || section.tag !== BECH32_CHARSET[code] || section.letters?.length !== 3 + length) {
      throw invalidInvoice("Invoice has a malformed tagged field");
    }
    fields.push({ section, words: dataWords.slice(offset + 3, end) });
    offset = end;
  }
  if (offset !== dataWords.length) throw invalidInvoice("Invoice has a malformed tagged field");
  return fields;
}

function hexValue(field: TaggedField): string {
  const value = field.section.value;
  if (typeof value !== "string" || !/^[0-9a-f]+$/.test(value)) {
    throw invalidInvoice(`Invoice field '${field.section.tag ?? "?"}' is malformed`);
  }
  return value;
}

/** Non-minimal integers are rejected (BOLT 11 "SHOULD treat as invalid") so each value has one encoding. */
function intValue(field: TaggedField): number {
  const first = field.words[0];
  if (first === 0 || field.words.length > MAX_INT_FIELD_WORDS) {
    throw invalidInvoice(`Invoice field '${field.section.tag ?? "?"}' is not minimally encoded`);
  }
  return wordsToInt(field.words);
}

function descriptionValue(field: TaggedField): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(wordsToBytes(field.words, false));
  } catch {
    throw invalidInvoice("Invoice description is not valid UTF-8");
  }
}

function checkFeatures(field: TaggedField): void {
  if (field.words[0] === 0) throw invalidInvoice("Invoice feature field is not minimally encoded");
  const count = field.words.length;
  field.words.forEach((word, i) => {
    // The field is big-endian: the last word holds feature bits 0-4.
    const base = (count - 1 - i) * 5;
    for (let b = 0; b < 5; b++) {
      const bit = base + b;
      if (bit % 2 === 0 && (word >> b) & 1 && !KNOWN_EVEN_FEATURE_BITS.has(bit)) {
        throw invalidInvoice(`Invoice requires unknown feature bit ${bit}`);
      }
    }
  });
}

function amountFromSection(section: RawSection | undefined): number | null {
  if (section === undefined) return null;
  const raw = section.value;
  if (typeof raw !== "string" || !/^\d+$/.test(raw)) throw invalidInvoice("Invoice amount is malformed");
  const msat = BigInt(raw);
  // "lnbc0u" would be a zero amount that is not a zero-amount invoice; the spec requires a positive amount.
  if (msat === 0n) throw invalidInvoice("Invoice amount must be positive");
  if (msat > BigInt(MAX_MSAT)) throw invalidInvoice(`Invoice amount exceeds the maximum of ${MAX_MSAT} msat`);
  return Number(msat);
}

function signingHash(hrp: string, dataWords: readonly number[]): Uint8Array {
  return sha256(concatBytes(utf8ToBytes(hrp), wordsToBytes(dataWords, true)));
}

function payeeFromSignature(sigWords: readonly number[], hash: Uint8Array, claimedPayee: string | null): string {
  const sig = wordsToBytes(sigWords, true);
  const compact = sig.subarray(0, 64);
  const recovery = sig[64];
  if (recovery === undefined || recovery > 3) throw invalidInvoice("Invoice signature has an invalid recovery flag");
  if (claimedPayee !== null) {
    // With an explicit payee the spec forbids recovery and demands low-S, closing the malleability gap.
    let ok: boolean;
    try {
      ok = secp256k1.verify(compact, hash, hexToBytes(claimedPayee), { prehash: false, lowS: true });
    } catch {
      ok = false;
    }
    if (!ok) throw invalidInvoice("Invoice signature does not match its payee");
    return claimedPayee;
  }
  try {
    // noble's "recovered" format puts the recovery byte first; BOLT 11 puts it last.
    const recovered = concatBytes(Uint8Array.of(recovery), compact);
    return bytesToHex(secp256k1.recoverPublicKey(recovered, hash, { prehash: false }));
  } catch {
    throw invalidInvoice("Invoice signature is invalid");
  }
}

/**
 * Invoices decoded lately in this isolate, by their exact text. Recovering the payee from the
 * signature is the costliest CPU step of a payment, and one invoice is often decoded twice in a
 * row (the paywall flow or decode_invoice checks it, then the ledger, in the same isolate when they
 * share one). Decoding is a pure function of the text; only successes are kept, frozen (every field
 * is a primitive). Bounded: the oldest entry goes first.
 */
const DECODED_MAX = 256;
const decoded = new Map<string, Readonly<DecodedInvoice>>();

/** Parses and fully validates a BOLT 11 invoice (checksum, framing, required fields, signature); throws INVALID_INVOICE. */
export function decodeInvoice(input: string): DecodedInvoice {
  const hit = typeof input === "string" ? decoded.get(input) : undefined;
  if (hit) return { ...hit };
  const inv = Object.freeze(decodeUncached(input));
  if (decoded.size >= DECODED_MAX) decoded.delete(decoded.keys().next().value!);
  decoded.set(input, inv);
  return { ...inv };
}

function decodeUncached(input: string): DecodedInvoice {
  const raw: unknown = input;
  if (typeof raw !== "string") throw invalidInvoice("Invoice must be a string");
  if (raw.length > MAX_INVOICE_LENGTH) throw invalidInvoice(`Invoice is longer than ${MAX_INVOICE_LENGTH} characters`);
  let text = raw.trim();
  if (text.toLowerCase().startsWith("lightning:")) text = text.slice("lightning:".length);
  if (text === "") throw invalidInvoice("Invoice is empty");
  const invoice = text.toLowerCase();
  if (text !== invoice && text !== text.toUpperCase()) throw invalidInvoice("Invoice mixes upper and lower case");
  if (!invoice.startsWith("ln")) throw invalidInvoice("Not a Lightning invoice");

  let sections: readonly RawSection[];
  let words: number[];
  try {
    sections = parseBolt11(invoice).sections;
    words = bech32.decode(invoice, false).words;
  } catch {
    // Library messages echo the whole input and internals; callers only need to know it is unusable.
    throw invalidInvoice("Invoice could not be parsed (bad checksum, prefix or structure)");
  }

  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) throw invalidInvoice("Invoice is too short");
  const dataWords = words.slice(0, -SIGNATURE_WORDS);
  const sigWords = words.slice(-SIGNATURE_WORDS);
  const hrp = invoice.slice(0, invoice.lastIndexOf("1"));

  const coin = sections.find((s) => s.name === "coin_network")?.letters;
  const network = coin === undefined ? undefined : NETWORK_BY_COIN[coin];
  if (network === undefined) throw invalidInvoice("Invoice is for an unsupported network");
  const amountMsat = amountFromSection(sections.find((s) => s.name === "amount"));
  const timestamp = wordsToInt(dataWords.slice(0, TIMESTAMP_WORDS));

  const byTag = new Map<string, TaggedField>();
  for (const field of frameTaggedFields(dataWords, sections)) {
    const tag = field.section.tag ?? "";
    const fixed = FIXED_TAG_WORDS[tag];
    if (fixed !== undefined && field.words.length !== fixed)
      throw invalidInvoice(`Invoice field '${tag}' has the wrong length`);
    if (READ_TAGS.has(tag) && !byTag.has(tag)) byTag.set(tag, field);
  }

  const p = byTag.get("p");
  const s = byTag.get("s");
  const d = byTag.get("d");
  const h = byTag.get("h");
  const n = byTag.get("n");
  const x = byTag.get("x");
  const c = byTag.get("c");
  const features = byTag.get("9");
  if (p === undefined) throw invalidInvoice("Invoice has no payment hash");
  if (s === undefined) throw invalidInvoice("Invoice has no payment secret");
  if ((d === undefined) === (h === undefined))
    throw invalidInvoice("Invoice must have exactly one of description or description hash");
  if (features !== undefined) checkFeatures(features);

  const expirySeconds = x === undefined ? DEFAULT_EXPIRY_SECONDS : intValue(x);
  const payee = payeeFromSignature(sigWords, signingHash(hrp, dataWords), n === undefined ? null : hexValue(n));

  return {
    invoice,
    network,
    amountMsat,
    paymentHash: hexValue(p),
    paymentSecret: hexValue(s),
    description: d === undefined ? null : descriptionValue(d),
    descriptionHash: h === undefined ? null : hexValue(h),
    payee,
    timestamp,
    expirySeconds,
    expiresAt: timestamp + expirySeconds,
    minFinalCltvExpiry: c === undefined ? DEFAULT_MIN_FINAL_CLTV_EXPIRY : intValue(c),
  };
}

/** True from the second the invoice expires: paying at the boundary would race the payee's refusal. */
export function isExpired(inv: DecodedInvoice, nowSeconds: number): boolean {
  return nowSeconds >= inv.expiresAt;
}

/** Largest multiplier that is exact gives the shortest amount, as BOLT 11 asks of writers. */
function amountToHrp(amountMsat: number): string {
  // Whole-BTC amounts (no multiplier) are legal but trip up naive parsers, so m is the largest unit used.
  const pico = BigInt(amountMsat) * 10n;
  const units: ReadonlyArray<readonly [string, bigint]> = [
    ["m", 1_000_000_000n],
    ["u", 1_000_000n],
    ["n", 1_000n],
  ];
  for (const [unit, picoPerUnit] of units) {
    if (pico % picoPerUnit === 0n) return `${pico / picoPerUnit}${unit}`;
  }
  return `${pico}p`;
}

function hex32(value: string, what: string): Uint8Array {
  const lower = value.toLowerCase();
  if (!HEX32.test(lower)) throw invalidInput(`${what} must be 32 bytes of hex`);
  return hexToBytes(lower);
}

function checkIntField(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min || value >= 2 ** (5 * MAX_INT_FIELD_WORDS)) {
    throw invalidInput(`${what} is out of range: ${String(value)}`);
  }
}

function pushField(words: number[], tag: string, data: readonly number[]): void {
  if (data.length > 1023) throw invalidInput(`Invoice field '${tag}' is too long`);
  words.push(BECH32_CHARSET.indexOf(tag), data.length >> 5, data.length & 31, ...data);
}

function checkPrivateKey(privateKey: Uint8Array): void {
  if (
    !(privateKey instanceof Uint8Array) ||
    privateKey.length !== 32 ||
    !secp256k1.utils.isValidSecretKey(privateKey)
  ) {
    throw invalidInput("Private key must be 32 bytes and a valid secp256k1 scalar");
  }
}

/** Builds a real, signed BOLT 11 invoice (RFC 6979 deterministic, low-S) that any decoder accepts; throws INVALID_INPUT. */
export function encodeInvoice(p: EncodeInvoiceParams): string {
  const coin = COIN_BY_NETWORK[p.network];
  if (coin === undefined) throw invalidInput(`Unknown network: ${String(p.network)}`);
  if (
    p.amountMsat !== undefined &&
    (!Number.isSafeInteger(p.amountMsat) || p.amountMsat <= 0 || p.amountMsat > MAX_MSAT)
  ) {
    throw invalidInput(`Invoice amount must be a whole number of msats between 1 and ${MAX_MSAT}`);
  }
  if ((p.description === undefined) === (p.descriptionHash === undefined)) {
    throw invalidInput("Exactly one of description or descriptionHash is required");
  }
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp < 0 || p.timestamp >= 2 ** 35) {
    throw invalidInput(`Invoice timestamp is out of range: ${String(p.timestamp)}`);
  }
  if (p.expirySeconds !== undefined) checkIntField(p.expirySeconds, "Invoice expiry", 1);
  if (p.minFinalCltvExpiry !== undefined) checkIntField(p.minFinalCltvExpiry, "min_final_cltv_expiry", 1);
  checkPrivateKey(p.privateKey);

  const hrp = `ln${coin}${p.amountMsat === undefined ? "" : amountToHrp(p.amountMsat)}`;
  const words = intToWords(p.timestamp, TIMESTAMP_WORDS);
  pushField(words, "s", bytesToWords(hex32(p.paymentSecret, "Payment secret")));
  pushField(words, "p", bytesToWords(hex32(p.paymentHash, "Payment hash")));
  if (p.description !== undefined) {
    const bytes = utf8ToBytes(p.description);
    if (bytes.length > MAX_FIELD_BYTES)
      throw invalidInput(`Invoice description exceeds ${MAX_FIELD_BYTES} bytes; use descriptionHash`);
    pushField(words, "d", bytesToWords(bytes));
  } else if (p.descriptionHash !== undefined) {
    pushField(words, "h", bytesToWords(hex32(p.descriptionHash, "Description hash")));
  }
  if (p.expirySeconds !== undefined) pushField(words, "x", intToWords(p.expirySeconds));
  if (p.minFinalCltvExpiry !== undefined) pushField(words, "c", intToWords(p.minFinalCltvExpiry));
  pushField(words, "9", intToWords(INVOICE_FEATURE_BITS.reduce((acc, bit) => acc + 2 ** bit, 0)));

  const hash = signingHash(hrp, words);
  // noble returns recovery || r || s; BOLT 11 wants r || s || recovery.
  const sig = secp256k1.sign(hash, p.privateKey, { prehash: false, lowS: true, format: "recovered" });
  const bolt11Sig = concatBytes(sig.subarray(1), sig.subarray(0, 1));
  return bech32.encode(hrp, [...words, ...bytesToWords(bolt11Sig)], false);
}

/** The 33-byte compressed public key (hex) a node key signs invoices as. */
export function nodePublicKey(privateKey: Uint8Array): string {
  checkPrivateKey(privateKey);
  return bytesToHex(secp256k1.getPublicKey(privateKey, true));
}
