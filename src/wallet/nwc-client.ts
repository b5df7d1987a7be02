/**
 * A Nostr Wallet Connect (NIP-47) client on nostr-tools' AbstractRelay, written for the money path:
 *
 * - one WebSocket per relay, opened lazily inside the caller's request or Durable Object (never at
 *   module scope) and kept for later calls: a warm client sends one EVENT per request, no handshake;
 * - one standing subscription per relay for every reply and notification addressed to us (and the
 *   wallet's info event, in the same REQ), so a request is never published before the place its
 *   answer lands is listening;
 * - a socket the relay dropped is reopened by the next request; requests waiting on it when it
 *   dropped end at once as "sent, outcome unknown" (replies are ephemeral: theirs are lost);
 * - replies are accepted only from the wallet's key with a valid signature, checked once per event
 *   (the socket's verifier, before any callback sees it), and only for a request we are waiting on;
 * - the per-request crypto is the least NIP-47 allows: the NIP-44 conversation key (ECDH) is derived
 *   once per client, and an event is hashed once and signed with our public key computed once;
 * - encryption is chosen from the wallet's info event (kind 13194): NIP-44 v2 when offered, else NIP-04;
 * - a request that may have reached the wallet but got no answer is reported as a timeout with
 *   `sent: true`, so the caller treats the payment as unknown, never as failed; requests carry a
 *   NIP-40 expiration so a late wallet drops them instead of paying after we stopped waiting.
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { AbstractRelay } from "nostr-tools/abstract-relay";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { getEventHash, getPublicKey, type Event } from "nostr-tools/pure";

export const NWC_INFO_KIND = 13194;
export const NWC_REQUEST_KIND = 23194;
export const NWC_RESPONSE_KIND = 23195;
export const NWC_NOTIFICATION_NIP04_KIND = 23196;
export const NWC_NOTIFICATION_KIND = 23197;

export type NwcEncryption = "nip44_v2" | "nip04";

export interface NwcConnectionParts {
  walletPubkey: string;
  relays: string[];
  secret: string;
  lud16: string | null;
}

/** What the wallet announces in its info event. */
export interface NwcServiceInfo {
  methods: string[];
  encryptions: NwcEncryption[];
  notifications: string[];
}

export interface NwcNotification {
  notification_type: string;
  notification: Record<string, unknown>;
}

/** The wallet answered with a NIP-47 error object. */
export class NwcWalletError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "NwcWalletError";
  }
}

/** No answer in time. `sent` is false only when no relay ever took the request. */
export class NwcTimeoutError extends Error {
  constructor(readonly sent: boolean) {
    super(sent ? "The wallet did not answer in time." : "No relay accepted the request in time.");
    this.name = "NwcTimeoutError";
  }
}

/** Certainly nothing reached the wallet: no relay could be reached, or every relay refused the request. */
export class NwcUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NwcUnavailableError";
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Prefixes of a relay's OK=false message (NIP-01): the relay refused the event and did not pass it on. */
const REFUSED = /^(pow|blocked|rate-limited|invalid|restricted|auth-required|error):/;

/** Splits a nostr+walletconnect:// URI into its parts; throws on anything malformed. */
export function parseNwcUri(uri: string): NwcConnectionParts {
  const m = /^nostr\+walletconnect:(?:\/\/)?([0-9a-fA-F]{64})\/?\?(.*)$/.exec(uri.trim());
  if (!m) throw new Error("not a nostr+walletconnect URI");
  const params = new URLSearchParams(m[2]!);
  const relays = [...new Set(params.getAll("relay").map((r) => r.trim()))].filter((r) => r.length > 0);
  const secret = (params.get("secret") ?? "").toLowerCase();
  if (relays.length === 0) throw new Error("no relay in the NWC URI");
  if (!HEX64.test(secret)) throw new Error("no valid secret in the NWC URI");
  return { walletPubkey: m[1]!.toLowerCase(), relays, secret, lud16: params.get("lud16") };
}

export interface NwcClientOptions {
  connectTimeoutMs?: number;
  /** How long to wait for the info event before giving up. */
  infoTimeoutMs?: number;
  onNotification?: (n: NwcNotification) => void;
  /** For tests and benchmarks: a clock in seconds. */
  now?: () => number;
}

interface Waiter {
  method: string;
  resolve: (result: unknown) => void;
  reject: (e: Error) => void;
}

/** One NIP-47 connection: a wallet, our key, and our sockets to its relays. */
export class NwcClient {
  readonly walletPubkey: string;
  readonly clientPubkey: string;
  readonly relayUrls: string[];
  /** Relay sockets opened over the client's life: a warm client does not add to it per request. */
  connects = 0;
  private readonly secretKey: Uint8Array;
  private readonly relays = new Map<string, AbstractRelay>();
  private readonly connecting = new Map<string, Promise<AbstractRelay>>();
  /** The standing subscription of each open relay (replies and notifications). */
  private readonly standing = new Map<AbstractRelay, { close(): void }>();
  private readonly waiting = new Map<string, Waiter>();
  private info: NwcServiceInfo | null = null;
  /** created_at of the info event in use: a newer one (re-published by the wallet) replaces it. */
  private infoAt = -1;
  /** The info fetch in progress, so concurrent first requests share one. */
  private infoFetch: Promise<NwcServiceInfo> | null = null;
  private conversationKey: Uint8Array | null = null;
  /** Events already checked by fromWallet, with the answer. */
  private readonly checked = new WeakMap<Event, boolean>();
  private closed = false;
  private readonly opts: Required<Omit<NwcClientOptions, "onNotification">> & Pick<NwcClientOptions, "onNotification">;

  constructor(parts: NwcConnectionParts, opts: NwcClientOptions = {}) {
    this.walletPubkey = parts.walletPubkey;
    this.relayUrls = parts.relays;
    this.secretKey = hexToBytes(parts.secret);
    this.clientPubkey = getPublicKey(this.secretKey);
    this.opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      infoTimeoutMs: opts.infoTimeoutMs ?? 5_000,
      now: opts.now ?? (() => Math.floor(Date.now() / 1000)),
      onNotification: opts.onNotification,
    };
  }

  /** True while at least one relay socket is open. */
  get connected(): boolean {
    for (const r of this.relays.values()) if (r.connected) return true;
    return false;
  }

  /** The encryption in use, once negotiated. */
  get encryption(): NwcEncryption | null {
    if (!this.info) return null;
    return pickEncryption(this.info);
  }

  /** Opens (or reuses) sockets to the relays; resolves once at least one is listening for our replies. */
  async connect(): Promise<void> {
    if (this.closed) throw new NwcUnavailableError("This NWC client was closed.");
    const attempts = this.relayUrls.map((url) => this.relay(url));
    try {
      await Promise.any(attempts);
    } catch {
      throw new NwcUnavailableError(`Could not reach any relay of the wallet (${this.relayUrls.length} tried).`);
    }
  }

  private relay(url: string): Promise<AbstractRelay> {
    const open = this.relays.get(url);
    if (open?.connected) return Promise.resolve(open);
    const pending = this.connecting.get(url);
    if (pending) return pending;
    const p = this.openRelay(url).finally(() => this.connecting.delete(url));
    this.connecting.set(url, p);
    return p;
  }

  private async openRelay(url: string): Promise<AbstractRelay> {
    // nostr-tools' Relay verifies with its own bundled copy of verifyEvent, whose "already verified"
    // mark our copy cannot see, so each reply's signature was checked twice. The socket is given our
    // verifier instead: one check per event, and only the wallet's events get that far.
    const relay = new AbstractRelay(url, { verifyEvent: (e) => this.fromWallet(e) });
    relay.onclose = () => {
      this.standing.delete(relay);
      if (this.relays.get(url) !== relay) return;
      this.relays.delete(url);
      // The last socket is gone: a reply can no longer reach us (NIP-47 replies are ephemeral and
      // not kept by relays), so every request in flight is now of unknown outcome. Say so at once
      // instead of waiting out the reply timeout; the next request opens a new socket.
      if (!this.connected) this.failWaiting();
    };
    await relay.connect({ timeout: this.opts.connectTimeoutMs });
    this.connects++;
    // Replies and notifications addressed to us, from the wallet only — and, in the same REQ, the
    // wallet's info event, so a cold start costs one subscription round trip, not two. Waiting for
    // EOSE makes sure the relay has registered the subscription before any request goes out on
    // this socket (and that the stored info event, if any, has arrived).
    await new Promise<void>((resolve) => {
      const sub = relay.subscribe(
        [
          {
            kinds: [NWC_RESPONSE_KIND, NWC_NOTIFICATION_KIND, NWC_NOTIFICATION_NIP04_KIND],
            authors: [this.walletPubkey],
            "#p": [this.clientPubkey],
            since: this.opts.now() - 5,
          },
          { kinds: [NWC_INFO_KIND], authors: [this.walletPubkey], limit: 1 },
        ],
        {
          onevent: (e) => this.onEvent(e),
          oneose: () => resolve(),
          onclose: () => resolve(),
          eoseTimeout: this.opts.connectTimeoutMs,
        },
      );
      this.standing.set(relay, sub);
    });
    if (!relay.connected) throw new NwcUnavailableError("The relay closed the connection.");
    if (this.closed) {
      closeRelay(relay, this.standing.get(relay));
      throw new NwcUnavailableError("This NWC client was closed.");
    }
    this.relays.set(url, relay);
    return relay;
  }

  /** Every waiting request ends as a timeout that may have been sent: its outcome is unknown. */
  private failWaiting(): void {
    for (const w of [...this.waiting.values()]) w.reject(new NwcTimeoutError(true));
  }

  /** The wallet's info event (kind 13194), fetched once per client. */
  async serviceInfo(): Promise<NwcServiceInfo> {
    if (this.info) return this.info;
    this.infoFetch ??= this.fetchServiceInfo().finally(() => {
      this.infoFetch = null;
    });
    return this.infoFetch;
  }

  private async fetchServiceInfo(): Promise<NwcServiceInfo> {
    await this.connect();
    // Usually the standing subscription has brought it already.
    if (this.info) return this.info;
    const relays = [...this.relays.values()].filter((r) => r.connected);
    const found = await new Promise<Event | null>((resolve) => {
      let remaining = relays.length;
      let best: Event | null = null;
      const timer = setTimeout(() => resolve(best), this.opts.infoTimeoutMs);
      for (const relay of relays) {
        const sub = relay.subscribe([{ kinds: [NWC_INFO_KIND], authors: [this.walletPubkey], limit: 1 }], {
          onevent: (e) => {
            if (!this.fromWallet(e)) return;
            if (!best || e.created_at > best.created_at) best = e;
          },
          oneose: () => {
            sub.close();
            if (--remaining === 0 || best) {
              clearTimeout(timer);
              resolve(best);
            }
          },
          onclose: () => {
            if (--remaining <= 0) {
              clearTimeout(timer);
              resolve(best);
            }
          },
          eoseTimeout: this.opts.infoTimeoutMs,
        });
      }
    });
    if (!found) {
      throw new NwcUnavailableError("The wallet has not published its NWC info event on these relays.");
    }
    this.takeInfo(found);
    return this.info!;
  }

  /** Uses a (verified) info event of the wallet unless a newer one is already in use. */
  private takeInfo(e: Event): void {
    if (e.created_at <= this.infoAt) return;
    this.infoAt = e.created_at;
    this.info = parseInfoEvent(e);
  }

  /**
   * Sends one NIP-47 request and waits up to timeoutMs for its reply. Resolves with `result`;
   * rejects with NwcWalletError (the wallet's error), NwcTimeoutError or NwcUnavailableError.
   */
  async request<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<T> {
    const info = await this.serviceInfo();
    // Reopens a socket the relay dropped since the last request (a no-op while connected).
    await this.connect();
    const encryption = pickEncryption(info);
    if (!encryption)
      throw new NwcWalletError("UNSUPPORTED_ENCRYPTION", "The wallet offers no encryption Satchel speaks.");
    const now = this.opts.now();
    const content = this.encrypt(encryption, JSON.stringify({ method, params }));
    const expiration = now + Math.max(1, Math.ceil(timeoutMs / 1000));
    const event = this.sign({
      kind: NWC_REQUEST_KIND,
      created_at: now,
      tags: [
        ["p", this.walletPubkey],
        ["encryption", encryption],
        ["expiration", String(expiration)],
      ],
      content,
    });
    const relays = [...this.relays.values()].filter((r) => r.connected);
    if (relays.length === 0) throw new NwcUnavailableError("No relay connection is open.");

    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(event.id);
        // A publish that was not acknowledged may still have gone through: count it as sent.
        reject(new NwcTimeoutError(true));
      }, timeoutMs);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.waiting.delete(event.id);
        fn();
      };
      this.waiting.set(event.id, {
        method,
        resolve: (r) => settle(() => resolve(r as T)),
        reject: (e) => settle(() => reject(e)),
      });
      const sends = relays.map((r) => r.publish(event));
      Promise.any(sends).catch((agg: AggregateError) => {
        const reasons = agg.errors.map((e) => (e instanceof Error ? e.message : String(e)));
        // Every relay refused it outright: nothing reached the wallet, so this is a clean failure.
        if (reasons.every((m) => REFUSED.test(m))) {
          this.waiting.get(event.id)?.reject(new NwcUnavailableError(`The relays refused the request: ${reasons[0]}`));
        }
        // Otherwise (socket dropped, publish timed out) it may have gone through: keep waiting.
      });
    });
  }

  private onEvent(e: Event): void {
    // The socket ran fromWallet before calling us; asking again costs a lookup, not a signature
    // check, and keeps the rule next to the code that settles payments: only the wallet's signed
    // events count.
    if (!this.fromWallet(e)) return;
    if (e.kind === NWC_INFO_KIND) {
      this.takeInfo(e);
      return;
    }
    let plain: string;
    try {
      plain = this.decrypt(e.content);
    } catch {
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(plain) as Record<string, unknown>;
    } catch {
      return;
    }
    if (e.kind === NWC_RESPONSE_KIND) {
      const requestId = e.tags.find((t) => t[0] === "e")?.[1];
      const waiter = requestId ? this.waiting.get(requestId) : undefined;
      if (!waiter) return;
      if (typeof body.result_type === "string" && body.result_type !== waiter.method) return;
      const err = body.error as { code?: unknown; message?: unknown } | null | undefined;
      if (err && typeof err === "object") {
        waiter.reject(
          new NwcWalletError(
            typeof err.code === "string" ? err.code : "OTHER",
            typeof err.message === "string" ? err.message.slice(0, 300) : "wallet error",
          ),
        );
      } else if (body.result && typeof body.result === "object") {
        waiter.resolve(body.result);
      } else {
        waiter.reject(new NwcWalletError("OTHER", "The wallet's reply has neither result nor error."));
      }
      return;
    }
    if (typeof body.notification_type === "string" && body.notification && typeof body.notification === "object") {
      this.opts.onNotification?.(body as unknown as NwcNotification);
    }
  }

  /**
   * True for an event by the wallet whose id is the hash of its content (NIP-01) and whose
   * signature is valid. Each event object is checked once: the answer is remembered for it.
   */
  private fromWallet(e: Event): boolean {
    if (e.pubkey !== this.walletPubkey) return false;
    const known = this.checked.get(e);
    if (known !== undefined) return known;
    let valid: boolean;
    try {
      valid = getEventHash(e) === e.id && schnorr.verify(hexToBytes(e.sig), hexToBytes(e.id), hexToBytes(e.pubkey));
    } catch {
      valid = false; // malformed hex, tags or signature length
    }
    this.checked.set(e, valid);
    return valid;
  }

  /** A NIP-01 event of ours: hashed once, signed with the public key computed at construction. */
  private sign(t: Pick<Event, "kind" | "created_at" | "tags" | "content">): Event {
    const unsigned = { ...t, pubkey: this.clientPubkey };
    const id = getEventHash(unsigned);
    return { ...unsigned, id, sig: bytesToHex(schnorr.sign(hexToBytes(id), this.secretKey)) };
  }

  private encrypt(encryption: NwcEncryption, text: string): string {
    if (encryption === "nip04") return nip04.encrypt(this.secretKey, this.walletPubkey, text);
    return nip44.encrypt(text, this.key());
  }

  /** NIP-04 payloads carry "?iv="; anything else is NIP-44. Replies may use either (a wallet upgrading). */
  private decrypt(content: string): string {
    if (content.includes("?iv=")) return nip04.decrypt(this.secretKey, this.walletPubkey, content);
    return nip44.decrypt(content, this.key());
  }

  private key(): Uint8Array {
    this.conversationKey ??= nip44.getConversationKey(this.secretKey, this.walletPubkey);
    return this.conversationKey;
  }

  /** Closes every socket and fails every waiting request as a timeout (they may have been sent). */
  close(): void {
    this.closed = true;
    this.failWaiting();
    this.waiting.clear();
    const relays = [...this.relays.values()];
    this.relays.clear();
    for (const r of relays) closeRelay(r, this.standing.get(r));
    this.standing.clear();
  }
}

/**
 * Closes a relay socket after ending its subscription. nostr-tools sends a subscription's CLOSE
 * message on a later tick, so closing the socket in the same tick makes that send throw
 * (an unhandled rejection): the socket is closed one tick later.
 */
function closeRelay(relay: AbstractRelay, sub: { close(): void } | undefined): void {
  sub?.close();
  setTimeout(() => relay.close(), 0);
}

/** NIP-44 v2 when the wallet offers it, else NIP-04; null when it offers neither. */
export function pickEncryption(info: NwcServiceInfo): NwcEncryption | null {
  if (info.encryptions.includes("nip44_v2")) return "nip44_v2";
  if (info.encryptions.includes("nip04")) return "nip04";
  return null;
}

/** Reads a kind 13194 event. No encryption tag means an older wallet that speaks NIP-04 only. */
export function parseInfoEvent(e: Pick<Event, "content" | "tags">): NwcServiceInfo {
  const tag = (name: string) => e.tags.find((t) => t[0] === name)?.[1];
  const methods = e.content.split(/[\s,]+/).filter((m) => m.length > 0);
  const encTag = tag("encryption");
  const encryptions = (encTag === undefined ? ["nip04"] : encTag.split(/\s+/)).filter(
    (x): x is NwcEncryption => x === "nip04" || x === "nip44_v2",
  );
  const notifications = (tag("notifications") ?? "").split(/\s+/).filter((n) => n.length > 0);
  return { methods, encryptions, notifications };
}
