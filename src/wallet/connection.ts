/**
 * The operator's wallet connection: which backend (fake | nwc | lnbits) and its secret (an NWC
 * connection URI, or an LNbits URL + API key), sealed with AES-256-GCM under the Worker secret
 * WALLET_SECRET_KEY before it reaches D1 (`operators.wallet_type`, `operators.wallet_secret_enc`).
 *
 * Nothing here returns or logs a secret except readWalletSecret, which exists for the wallet
 * factory. Validation messages never echo the input, since the input is the secret.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { getConfig } from "../config";
import { SatchelError } from "../errors";

export type WalletType = "fake" | "nwc" | "lnbits";

/** What an operator submits to connect a wallet. */
export type WalletConnectionInput =
  { type: "fake" } | { type: "nwc"; uri: string } | { type: "lnbits"; url: string; apiKey: string };

/** What may be shown about a connection: never the secret. */
export interface WalletConnectionView {
  type: WalletType;
  /** E.g. "relay.example.com · wallet 3f9a12…c2d1" or "lnbits.example.com"; no secret part. */
  description: string;
  /** False when a stored secret cannot be opened (WALLET_SECRET_KEY missing or changed). */
  readable: boolean;
}

/** The decrypted secret of an NWC or LNbits connection. */
export type WalletSecret = { type: "nwc"; uri: string } | { type: "lnbits"; url: string; apiKey: string };

const FORMAT = "v1";
const MAX_URI = 2048;
const HEX64 = /^[0-9a-f]{64}$/i;
const LNBITS_KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** Loopback hosts, where plain http/ws is acceptable (a local LNbits or relay in development). */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function invalid(message: string, hint?: string): SatchelError {
  return new SatchelError("INVALID_INPUT", message, hint === undefined ? {} : { hint });
}

/** Checks the shape of an NWC URI (NIP-47) and returns its normalised form and its parts. */
function parseNwc(raw: string): { uri: string; relays: URL[]; walletPubkey: string; secret: string } {
  const uri = raw.trim();
  if (uri.length > MAX_URI) throw invalid("The NWC connection string is too long.");
  const m = /^nostr\+walletconnect:\/\/([^?/#]+)\/?\?([^#]*)$/i.exec(uri);
  if (!m) {
    throw invalid(
      "That is not a Nostr Wallet Connect URI.",
      "It starts with nostr+walletconnect:// and is shown by your wallet (Alby Hub, Mutiny, …) when you add a connection.",
    );
  }
  const walletPubkey = m[1]!;
  if (!HEX64.test(walletPubkey)) throw invalid("The NWC URI must name the wallet's public key as 64 hex characters.");
  const params = new URLSearchParams(m[2]!);
  const relays = params.getAll("relay").map((r) => {
    let url: URL;
    try {
      url = new URL(r);
    } catch {
      throw invalid("A relay in the NWC URI is not a URL.");
    }
    if (url.protocol !== "wss:" && !(url.protocol === "ws:" && isLoopback(url.hostname))) {
      throw invalid("NWC relays must use wss:// (ws:// only on this machine).");
    }
    if (url.username || url.password) throw invalid("A relay URL must not contain credentials.");
    return url;
  });
  if (relays.length === 0 || relays.length > 10)
    throw invalid("The NWC URI must name one to ten relays (relay=wss://…).");
  const secret = params.get("secret");
  if (secret === null || !HEX64.test(secret) || params.getAll("secret").length !== 1) {
    throw invalid("The NWC URI must carry one secret of 64 hex characters.");
  }
  return { uri, relays, walletPubkey: walletPubkey.toLowerCase(), secret: secret.toLowerCase() };
}

/** Checks an LNbits base URL: https (or http on this machine), no credentials, query or fragment. */
function parseLnbitsUrl(raw: string): URL {
  const text = raw.trim();
  if (text.length > MAX_URI) throw invalid("The LNbits URL is too long.");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("The LNbits URL is not a URL.", "For example https://legend.lnbits.com");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw invalid("The LNbits URL must use https:// (http:// only on this machine).");
  }
  if (url.username || url.password || url.search || url.hash) {
    throw invalid("The LNbits URL must be the server's address only: no credentials, query or fragment.");
  }
  return url;
}

/** Validates a submitted connection; returns the secret to seal (null for the fake wallet). */
export function validateWalletConnection(input: WalletConnectionInput): WalletSecret | null {
  switch (input.type) {
    case "fake":
      return null;
    case "nwc":
      return { type: "nwc", uri: parseNwc(input.uri).uri };
    case "lnbits": {
      const url = parseLnbitsUrl(input.url);
      const apiKey = input.apiKey.trim();
      if (!LNBITS_KEY.test(apiKey)) {
        throw invalid(
          "The LNbits API key must be 16 to 128 letters, digits, '-' or '_'.",
          "Use the wallet's Invoice/read key or Admin key from LNbits (API info).",
        );
      }
      return { type: "lnbits", url: url.href.replace(/\/+$/, ""), apiKey };
    }
  }
}

/**
 * Names the wallet a payment was sent through (an invoice issued by), kept on the ledger entry so
 * that only that wallet is asked about it: another wallet does not know the payment, and its "not
 * found" would release sats the first one spent (or expire an invoice the first one was paid). The same connection saved again gets the same name; any other connection
 * (another wallet, or another NWC app connection or LNbits key of the same wallet, which may not see
 * the first one's payments) gets another. A hash of the secret: it reveals nothing.
 */
export function walletRef(secret: WalletSecret | null): string {
  if (secret === null) return "fake";
  let identity: string;
  if (secret.type === "lnbits") identity = `lnbits\n${secret.url}\n${secret.apiKey}`;
  else {
    const nwc = parseNwc(secret.uri);
    identity = `nwc\n${nwc.walletPubkey}\n${nwc.secret}`;
  }
  return `${secret.type}:${bytesToHex(sha256(utf8ToBytes(identity))).slice(0, 32)}`;
}

/** A safe description of a secret: hosts and the wallet's public key only. */
function describe(secret: WalletSecret): string {
  if (secret.type === "lnbits") return new URL(secret.url).host;
  const { relays, walletPubkey } = parseNwc(secret.uri);
  const hosts = [...new Set(relays.map((r) => r.host))].join(", ");
  return `${hosts} · wallet ${walletPubkey.slice(0, 6)}…${walletPubkey.slice(-4)}`;
}

/** Why wallet secrets can or cannot be sealed on this deployment. */
export function walletKeyStatus(env: Env): "ok" | "missing" | "invalid" {
  const raw = getConfig(env).walletSecretKey;
  if (raw === undefined || raw === "") return "missing";
  return decodeKey(raw) ? "ok" : "invalid";
}

function decodeKey(raw: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(raw)) return null;
  const bytes = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
  return bytes.length === 32 ? bytes : null;
}

async function aesKey(env: Env): Promise<CryptoKey> {
  const raw = getConfig(env).walletSecretKey;
  const bytes = raw ? decodeKey(raw) : null;
  if (!bytes) {
    throw new SatchelError(
      "WALLET_NOT_CONFIGURED",
      raw ? "WALLET_SECRET_KEY is not 32 bytes of base64." : "WALLET_SECRET_KEY is not set on this server.",
      { hint: "Set it with `wrangler secret put WALLET_SECRET_KEY` (openssl rand -base64 32); see .dev.vars.example." },
    );
  }
  return crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** The ciphertext is bound to its operator and type, so a row copied elsewhere does not open. */
const aad = (operatorId: string, type: WalletType) =>
  new TextEncoder().encode(`satchel-wallet:${FORMAT}:${operatorId}:${type}`);

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function seal(env: Env, operatorId: string, secret: WalletSecret): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = new TextEncoder().encode(JSON.stringify(secret));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(operatorId, secret.type) },
    await aesKey(env),
    plaintext,
  );
  return `${FORMAT}:${b64(iv)}:${b64(new Uint8Array(ct))}`;
}

/**
 * Secrets opened in this isolate, by operator, type and sealed text. Every payment reads the sealed
 * connection from D1 (so a change is seen at once); opening it again (key import, base64, AES-GCM)
 * is skipped while the sealed text is the same. A new connection, or a rotated WALLET_SECRET_KEY
 * (re-sealed), is a different entry. Bounded: the oldest entry goes first.
 */
const OPENED_MAX = 256;
const opened = new Map<string, { keyText: string; secret: WalletSecret }>();

async function open(env: Env, operatorId: string, type: WalletType, sealed: string): Promise<WalletSecret> {
  const id = `${operatorId}\n${type}\n${sealed}`;
  // The entry remembers the key it was opened with: a changed WALLET_SECRET_KEY must fail to open.
  const keyText = getConfig(env).walletSecretKey ?? "";
  const hit = opened.get(id);
  if (hit && hit.keyText === keyText) return structuredClone(hit.secret);
  const secret = await openSealed(env, operatorId, type, sealed);
  if (opened.size >= OPENED_MAX) opened.delete(opened.keys().next().value!);
  opened.set(id, { keyText, secret });
  return structuredClone(secret);
}

async function openSealed(env: Env, operatorId: string, type: WalletType, sealed: string): Promise<WalletSecret> {
  const [format, iv, ct] = sealed.split(":");
  if (format !== FORMAT || !iv || !ct) throw new SatchelError("INTERNAL", "Unknown wallet secret format.");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: unb64(iv), additionalData: aad(operatorId, type) },
    await aesKey(env),
    unb64(ct),
  );
  const secret = JSON.parse(new TextDecoder().decode(plain)) as WalletSecret;
  if (secret.type !== type) throw new SatchelError("INTERNAL", "Wallet secret does not match its type.");
  return secret;
}

/**
 * Seals another secret of an operator (e.g. the X402 EVM key) with the same key and format as wallet
 * secrets. `purpose` is bound into the ciphertext, so it opens only for the same operator and purpose.
 */
export async function sealSecret(env: Env, operatorId: string, purpose: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    {
      name: "AES-GCM",
      iv,
      additionalData: new TextEncoder().encode(`satchel-secret:${FORMAT}:${operatorId}:${purpose}`),
    },
    await aesKey(env),
    new TextEncoder().encode(plaintext),
  );
  return `${FORMAT}:${b64(iv)}:${b64(new Uint8Array(ct))}`;
}

/** Opens what sealSecret sealed for the same operator and purpose; throws when it cannot. */
export async function openSecret(env: Env, operatorId: string, purpose: string, sealed: string): Promise<string> {
  const [format, iv, ct] = sealed.split(":");
  if (format !== FORMAT || !iv || !ct) throw new SatchelError("INTERNAL", "Unknown secret format.");
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: unb64(iv),
      additionalData: new TextEncoder().encode(`satchel-secret:${FORMAT}:${operatorId}:${purpose}`),
    },
    await aesKey(env),
    unb64(ct),
  );
  return new TextDecoder().decode(plain);
}

/**
 * Stores the operator's wallet connection, the secret sealed. Refuses (WALLET_NOT_CONFIGURED)
 * when there is no usable WALLET_SECRET_KEY; choosing the fake wallet needs no key and clears any secret.
 */
export async function saveWalletConnection(
  env: Env,
  operatorId: string,
  input: WalletConnectionInput,
): Promise<WalletConnectionView> {
  const secret = validateWalletConnection(input);
  const sealed = secret === null ? null : await seal(env, operatorId, secret);
  const r = await env.DB.prepare("UPDATE operators SET wallet_type = ?, wallet_secret_enc = ? WHERE id = ?")
    .bind(input.type, sealed, operatorId)
    .run();
  if (r.meta.changes !== 1) throw new SatchelError("NOT_FOUND", "No such operator.");
  return secret === null
    ? { type: "fake", description: "simulated Lightning network, no real sats", readable: true }
    : { type: secret.type, description: describe(secret), readable: true };
}

/** An operator's stored connection as read from D1 (still sealed). */
export interface StoredWalletRow {
  wallet_type: string;
  wallet_secret_enc: string | null;
}

/** Whether two reads of an operator's stored connection found the same one (re-saving it counts as another). */
export function sameConnection(a: StoredWalletRow | null, b: StoredWalletRow | null): boolean {
  return a?.wallet_type === b?.wallet_type && a?.wallet_secret_enc === b?.wallet_secret_enc;
}

/** The read of an operator's stored connection, for a caller that batches it with other D1 work. */
export function storedWalletQuery(env: Env, operatorId: string): D1PreparedStatement {
  return env.DB.prepare("SELECT wallet_type, wallet_secret_enc FROM operators WHERE id = ?").bind(operatorId);
}

function parseStored(row: StoredWalletRow | null) {
  if (!row) throw new SatchelError("NOT_FOUND", "No such operator.");
  const type: WalletType = row.wallet_type === "nwc" || row.wallet_type === "lnbits" ? row.wallet_type : "fake";
  return { type, sealed: row.wallet_secret_enc };
}

async function storedRow(env: Env, operatorId: string) {
  return parseStored(await storedWalletQuery(env, operatorId).first<StoredWalletRow>());
}

/** The operator's connection: its type and a redacted description, never the secret. */
export async function getWalletConnection(env: Env, operatorId: string): Promise<WalletConnectionView> {
  const { type, sealed } = await storedRow(env, operatorId);
  if (type === "fake" || sealed === null)
    return { type: "fake", description: "simulated Lightning network, no real sats", readable: true };
  try {
    return { type, description: describe(await open(env, operatorId, type, sealed)), readable: true };
  } catch {
    // No detail: the reason is the key (missing or rotated), and nothing of the secret may leak.
    return { type, description: "stored secret cannot be opened with the current WALLET_SECRET_KEY", readable: false };
  }
}

/** The decrypted secret, for the wallet factory only (NWC and LNbits backends); null for the fake wallet. */
export async function readWalletSecret(env: Env, operatorId: string): Promise<WalletSecret | null> {
  return openStoredSecret(env, operatorId, await storedWalletQuery(env, operatorId).first<StoredWalletRow>());
}

/** readWalletSecret for a row the caller already read (see storedWalletQuery). */
export async function openStoredSecret(
  env: Env,
  operatorId: string,
  row: StoredWalletRow | null,
): Promise<WalletSecret | null> {
  const { type, sealed } = parseStored(row);
  if (type === "fake" || sealed === null) return null;
  return open(env, operatorId, type, sealed);
}
