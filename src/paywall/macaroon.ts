// Macaroons as L402 uses them: the binary V2 format of libmacaroons / gopkg.in/macaroon.v2 (what
// Aperture issues and the `macaroon` npm package reads), the V1 packet format for decoding old tokens,
// the libmacaroons signature chain, and the L402 v0 identifier (version ‖ payment hash ‖ token id).
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";

export interface Macaroon {
  location: string | null;
  identifier: Uint8Array;
  /** First-party caveat predicates, in order ("key=value" by L402 convention). */
  caveats: Uint8Array[];
  /** True when a caveat is third-party (has a verification id): Satchel never discharges those. */
  thirdParty: boolean;
  signature: Uint8Array;
}

/** The L402 v0 identifier: uint16 big-endian version 0, then the payment hash and a token id. */
export interface L402Identifier {
  version: number;
  paymentHash: string;
  tokenId: string;
}

const FIELD_EOS = 0;
const FIELD_LOCATION = 1;
const FIELD_IDENTIFIER = 2;
const FIELD_VID = 4;
const FIELD_SIGNATURE = 6;
/** Tokens come from strangers: a bound keeps decoding cheap. */
const MAX_MACAROON_BYTES = 8192;
const KEY_GENERATOR = utf8ToBytes("macaroons-key-generator");

const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** libmacaroons derives the HMAC key from the root key, so keys of any length work the same everywhere. */
function derivedKey(rootKey: Uint8Array): Uint8Array {
  return hmac(sha256, KEY_GENERATOR, rootKey);
}

/** The signature a macaroon with this identifier and these first-party caveats must carry. */
export function chainSignature(rootKey: Uint8Array, identifier: Uint8Array, caveats: Uint8Array[]): Uint8Array {
  let sig = hmac(sha256, derivedKey(rootKey), identifier);
  for (const c of caveats) sig = hmac(sha256, sig, c);
  return sig;
}

/** Mints a macaroon with first-party caveats. */
export function mintMacaroon(p: {
  rootKey: Uint8Array;
  identifier: Uint8Array;
  location?: string;
  caveats?: string[];
}): Macaroon {
  const caveats = (p.caveats ?? []).map((c) => utf8ToBytes(c));
  return {
    location: p.location ?? null,
    identifier: p.identifier,
    caveats,
    thirdParty: false,
    signature: chainSignature(p.rootKey, p.identifier, caveats),
  };
}

/** True when the signature chain from rootKey matches (constant time over the signature). */
export function signatureValid(m: Macaroon, rootKey: Uint8Array): boolean {
  if (m.thirdParty) return false;
  const expected = chainSignature(rootKey, m.identifier, m.caveats);
  if (expected.length !== m.signature.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ m.signature[i]!;
  return diff === 0;
}

// ---- binary V2 ------------------------------------------------------------------------------------

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function field(type: number, data: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(type), varint(data.length), data);
}

/** Serializes in the binary V2 format. */
export function encodeMacaroon(m: Macaroon): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(2)];
  if (m.location) parts.push(field(FIELD_LOCATION, utf8ToBytes(m.location)));
  parts.push(field(FIELD_IDENTIFIER, m.identifier), Uint8Array.of(FIELD_EOS));
  for (const c of m.caveats) parts.push(field(FIELD_IDENTIFIER, c), Uint8Array.of(FIELD_EOS));
  parts.push(Uint8Array.of(FIELD_EOS), field(FIELD_SIGNATURE, m.signature));
  return concatBytes(...parts);
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  byte(): number {
    if (this.pos >= this.buf.length) throw new Error("truncated macaroon");
    return this.buf[this.pos++]!;
  }
  peek(): number {
    if (this.pos >= this.buf.length) throw new Error("truncated macaroon");
    return this.buf[this.pos]!;
  }
  uvarint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return n;
      mul *= 128;
    }
    throw new Error("varint too long");
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new Error("truncated macaroon");
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Reads one field, or null at an end-of-section marker. */
  field(): { type: number; data: Uint8Array } | null {
    const type = this.uvarint();
    if (type === FIELD_EOS) return null;
    return { type, data: this.bytes(this.uvarint()) };
  }
}

function decodeV2(buf: Uint8Array): Macaroon {
  const r = new Reader(buf);
  if (r.byte() !== 2) throw new Error("not a V2 macaroon");
  let location: string | null = null;
  let f = r.field();
  if (f?.type === FIELD_LOCATION) {
    location = text.decode(f.data);
    f = r.field();
  }
  if (f?.type !== FIELD_IDENTIFIER) throw new Error("macaroon without identifier");
  const identifier = f.data;
  if (r.field() !== null) throw new Error("unexpected field after identifier");
  const caveats: Uint8Array[] = [];
  let thirdParty = false;
  for (;;) {
    let c = r.field();
    if (c === null) break;
    if (c.type === FIELD_LOCATION) c = r.field();
    if (c?.type !== FIELD_IDENTIFIER) throw new Error("caveat without identifier");
    caveats.push(c.data);
    const next = r.field();
    if (next !== null) {
      if (next.type !== FIELD_VID) throw new Error("unexpected caveat field");
      thirdParty = true;
      if (r.field() !== null) throw new Error("unterminated caveat");
    }
  }
  const sig = r.field();
  if (sig?.type !== FIELD_SIGNATURE || sig.data.length !== 32) throw new Error("bad macaroon signature field");
  if (!r.done) throw new Error("trailing bytes after macaroon");
  return { location, identifier, caveats, thirdParty, signature: sig.data };
}

/** The V1 packet format: 4 hex digits of packet length, then "key value\n". */
function decodeV1(buf: Uint8Array): Macaroon {
  let pos = 0;
  let location: string | null = null;
  let identifier: Uint8Array | null = null;
  let signature: Uint8Array | null = null;
  const caveats: Uint8Array[] = [];
  let thirdParty = false;
  const latin = { decode: (b: Uint8Array) => String.fromCharCode(...b) };
  while (pos < buf.length) {
    const len = Number.parseInt(latin.decode(buf.slice(pos, pos + 4)), 16);
    if (!Number.isInteger(len) || len < 6 || pos + len > buf.length) throw new Error("bad V1 packet");
    const packet = buf.slice(pos + 4, pos + len - 1);
    const space = packet.indexOf(0x20);
    if (space < 0 || buf[pos + len - 1] !== 0x0a) throw new Error("bad V1 packet");
    const key = latin.decode(packet.slice(0, space));
    const value = packet.slice(space + 1);
    if (key === "location") location = text.decode(value);
    else if (key === "identifier") identifier = value;
    else if (key === "cid") caveats.push(value);
    else if (key === "vid") thirdParty = true;
    else if (key === "signature") signature = value;
    else if (key !== "cl") throw new Error("unknown V1 packet");
    pos += len;
  }
  if (!identifier || signature?.length !== 32) throw new Error("incomplete V1 macaroon");
  return { location, identifier, caveats, thirdParty, signature };
}

/** Decodes standard or URL-safe base64, with or without padding. */
export function base64ToBytes(s: string): Uint8Array {
  const std = s.trim().replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std)) throw new Error("not base64");
  const padded = std.replace(/=+$/, "").padEnd(Math.ceil(std.replace(/=+$/, "").length / 4) * 4, "=");
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]!);
  return btoa(bin);
}

/** Decodes a base64 macaroon in the binary V2 or V1 format; throws on anything else. */
export function decodeMacaroon(token: string): Macaroon {
  if (token.length > (MAX_MACAROON_BYTES * 4) / 3 + 4) throw new Error("macaroon too long");
  const buf = base64ToBytes(token);
  if (buf.length === 0) throw new Error("empty macaroon");
  if (buf[0] === 2) return decodeV2(buf);
  // V1 binary tokens start with the hex length of the location packet, and are themselves base64 text.
  return decodeV1(buf);
}

/** Serializes to the base64 text L402 headers carry. */
export function macaroonToBase64(m: Macaroon): string {
  return bytesToBase64(encodeMacaroon(m));
}

/** Builds a v0 identifier. */
export function encodeIdentifier(paymentHash: string, tokenId: string): Uint8Array {
  return concatBytes(Uint8Array.of(0, 0), hexToBytes(paymentHash), hexToBytes(tokenId));
}

/** Reads a v0 identifier, or null when the identifier is of another shape (then it carries no payment hash). */
export function decodeIdentifier(id: Uint8Array): L402Identifier | null {
  if (id.length !== 66 || id[0] !== 0 || id[1] !== 0) return null;
  return { version: 0, paymentHash: bytesToHex(id.slice(2, 34)), tokenId: bytesToHex(id.slice(34, 66)) };
}

/** The caveats as "key=value" strings (non-UTF-8 caveats come back as null). */
export function caveatStrings(m: Macaroon): (string | null)[] {
  return m.caveats.map((c) => {
    try {
      return text.decode(c);
    } catch {
      return null;
    }
  });
}
