// The wallet lab: real counterparties on loopback for the NWC, LNbits and LNURL tests and the
// benchmark. One HTTP + WebSocket server on 127.0.0.1 serves
//   /            a Nostr relay (@nostr-relay/core, in-memory events, over `ws`)
//   /lnbits/*    an LNbits-style REST API (X-Api-Key; admin key pays, invoice key receives)
//   /lnurl/*, /.well-known/lnurlp/*   LNURL-pay, LNURL-withdraw and LNURL-auth services
//   POST /control   test controls (create wallets, invoices, modes, drops), JSON in and out
// and an NWCWalletService (@getalby/sdk) answers NIP-47 for every NWC wallet, backed by the
// TestNetwork, so payments are real signed invoices settled once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { NWCWalletService, NWCWalletServiceKeyPair } from "@getalby/sdk/nwc";
import { NostrRelay } from "@nostr-relay/core";
import { EventRepository, type Event as RelayEvent, type Filter as RelayFilter } from "@nostr-relay/common";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { finalizeEvent, getEventHash, getPublicKey } from "nostr-tools/pure";
import { createRequire } from "node:module";
import type { WebSocket } from "ws";
import { decodeInvoice } from "../../../src/lightning/bolt11";
import { TestNetwork, type PayMode, type TestInvoice } from "./network";

// `ws` is loaded with Node's own resolution: the Workers test project's globalSetup resolves imports
// with worker conditions, which would pick ws' browser stub (no server).
const { WebSocketServer } = createRequire(import.meta.url)("ws") as typeof import("ws");

const hex32 = () => randomBytes(32).toString("hex");

/** Events kept in memory; ephemeral kinds (20000–29999) are never stored, replaceable ones replaced. */
class MemoryRepository extends EventRepository {
  private events: RelayEvent[] = [];
  isSearchSupported() {
    return false;
  }
  upsert(e: RelayEvent) {
    if (e.kind >= 20000 && e.kind < 30000) return { isDuplicate: false };
    if (this.events.some((x) => x.id === e.id)) return { isDuplicate: true };
    if ((e.kind >= 10000 && e.kind < 20000) || e.kind === 0 || e.kind === 3) {
      this.events = this.events.filter((x) => !(x.kind === e.kind && x.pubkey === e.pubkey));
    }
    this.events.push(e);
    return { isDuplicate: false };
  }
  find(f: RelayFilter) {
    const out = this.events
      .filter(
        (e) =>
          (!f.kinds || f.kinds.includes(e.kind)) &&
          (!f.authors || f.authors.includes(e.pubkey)) &&
          (!f.ids || f.ids.includes(e.id)) &&
          (f.since === undefined || e.created_at >= f.since),
      )
      .sort((a, b) => b.created_at - a.created_at);
    return f.limit === undefined ? out : out.slice(0, f.limit);
  }
  async destroy() {}
}

export type WalletKind = "nip44" | "nip04" | "no_preimage" | "silent";

export interface NwcWalletSpec {
  kind?: WalletKind;
  startSats?: number;
  /** Every pay request is answered with this NIP-47 error code. */
  payError?: string | null;
  /**
   * The relay drops the connections of this wallet's clients right after the wallet paid, before
   * its answer goes out (so the answer is lost: NIP-47 replies are ephemeral).
   */
  dropAfterPay?: boolean;
}

interface NwcWalletState {
  id: string;
  walletSecret: string;
  clientSecret: string;
  spec: Required<NwcWalletSpec>;
  uri: string;
  /** NIP-47 requests the wallet service received, by method (pay_invoice, lookup_invoice, …). */
  requests: Record<string, number>;
}

interface LnbitsWalletState {
  id: string;
  adminKey: string;
  invoiceKey: string;
  shape: "current" | "old";
}

export interface Lab {
  url: string;
  relayUrl: string;
  network: TestNetwork;
  createNwcWallet(spec?: NwcWalletSpec): Promise<{ id: string; uri: string; pubkey: string }>;
  stop(): Promise<void>;
}

/** Starts the lab on a free loopback port. */
export async function startLab(): Promise<Lab> {
  const network = new TestNetwork();
  const repo = new MemoryRepository();
  const relay = new NostrRelay(repo);
  const server: Server = createServer((req, res) => void route(req, res));
  const wss = new WebSocketServer({ server });
  const sockets = new Set<WebSocket>();
  const serviceSockets = new Set<WebSocket>();
  /** The wallet keys each client socket subscribed to (REQ authors), so a drop hits one wallet's clients only. */
  const socketAuthors = new Map<WebSocket, Set<string>>();
  /** Each client socket's subscriptions to replies (kind 23195), by wallet key: where a forged reply is delivered. */
  const replySubs = new Map<WebSocket, Map<string, string>>();
  /** The NIP-47 requests clients sent to each wallet key, in order: what a forged reply answers. */
  const requestsTo = new Map<string, { event: RelayEvent; ws: WebSocket }[]>();
  let relayConnections = 0;
  /** Messages clients (not the wallet service) sent to the relay, by type: REQ, EVENT, CLOSE. */
  const clientMessages: Record<string, number> = {};
  wss.on("connection", (ws) => {
    relayConnections++;
    sockets.add(ws);
    relay.handleConnection(ws as never);
    ws.on("message", (data) => {
      try {
        const msg = JSON.parse(String(data)) as unknown[];
        // The wallet service is the socket that listens for requests (kind 23194): "drop" spares it.
        if (msg[0] === "REQ" && msg.slice(2).some((f) => (f as { kinds?: number[] }).kinds?.includes(23194))) {
          serviceSockets.add(ws);
        }
        if (!serviceSockets.has(ws) && typeof msg[0] === "string") {
          clientMessages[msg[0]] = (clientMessages[msg[0]] ?? 0) + 1;
          if (msg[0] === "REQ") {
            const authors = socketAuthors.get(ws) ?? new Set<string>();
            const subs = replySubs.get(ws) ?? new Map<string, string>();
            for (const f of msg.slice(2) as { authors?: string[]; kinds?: number[] }[]) {
              for (const a of f.authors ?? []) {
                authors.add(a);
                if (f.kinds?.includes(23195)) subs.set(a, String(msg[1]));
              }
            }
            socketAuthors.set(ws, authors);
            replySubs.set(ws, subs);
          }
          const e = msg[0] === "EVENT" ? (msg[1] as RelayEvent) : null;
          const to = e?.kind === 23194 ? e.tags.find((t) => t[0] === "p")?.[1] : undefined;
          if (e && to) requestsTo.set(to, [...(requestsTo.get(to) ?? []), { event: e, ws }]);
        }
        void relay.handleMessage(ws as never, msg as never);
      } catch {
        // malformed: ignore
      }
    });
    ws.on("close", () => {
      sockets.delete(ws);
      serviceSockets.delete(ws);
      socketAuthors.delete(ws);
      replySubs.delete(ws);
      relay.handleDisconnect(ws as never);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const relayUrl = `ws://127.0.0.1:${port}`;

  const service = new NWCWalletService({ relayUrls: [relayUrl] });
  // NWCWalletService publishes each reply with an un-awaited Promise.any: a reply still waiting for
  // the relay's OK when the lab stops becomes an unhandled rejection (it crashes a bare Node run).
  // The lab's service treats a publish the relay dropped as done, which is all it ever did with it.
  const pool = (service as unknown as { pool: { publish: (...a: unknown[]) => Promise<string>[] } }).pool;
  const publishReplies = pool.publish.bind(pool);
  pool.publish = (...args) => publishReplies(...args).map((p) => p.catch(() => "dropped"));

  const nwcWallets = new Map<string, NwcWalletState>();
  const lnbitsWallets = new Map<string, LnbitsWalletState>();
  const unsubscribes: (() => void)[] = [];

  /** Publishes an event straight into the relay (info events, notifications). */
  const publish = async (e: RelayEvent) => {
    await relay.handleEvent(e);
  };

  async function createNwcWallet(spec: NwcWalletSpec = {}) {
    const s: Required<NwcWalletSpec> = {
      kind: spec.kind ?? "nip44",
      startSats: spec.startSats ?? 1_000_000,
      payError: spec.payError ?? null,
      dropAfterPay: spec.dropAfterPay ?? false,
    };
    const id = `nwc-${nwcWallets.size + 1}-${randomBytes(3).toString("hex")}`;
    network.node(id, s.startSats * 1000);
    const walletSecret = hex32();
    const clientSecret = hex32();
    const walletPubkey = getPublicKey(hexToBytes(walletSecret));
    const uri = `nostr+walletconnect://${walletPubkey}?relay=${encodeURIComponent(relayUrl)}&secret=${clientSecret}`;
    const w: NwcWalletState = { id, walletSecret, clientSecret, spec: s, uri, requests: {} };
    nwcWallets.set(id, w);
    const methods = [
      "get_info",
      "get_balance",
      "make_invoice",
      "pay_invoice",
      "pay_keysend",
      "lookup_invoice",
      "list_transactions",
    ];
    // The info event: a NIP-04-only wallet is an older one that publishes no encryption tag.
    await publish(
      finalizeEvent(
        {
          kind: 13194,
          created_at: Math.floor(Date.now() / 1000),
          tags: [
            ...(s.kind === "nip04" ? [] : [["encryption", "nip44_v2 nip04"]]),
            ["notifications", "payment_received payment_sent"],
          ],
          content: methods.join(" "),
        },
        hexToBytes(walletSecret),
      ) as RelayEvent,
    );
    const keypair = new NWCWalletServiceKeyPair(walletSecret, getPublicKey(hexToBytes(clientSecret)));
    const never = new Promise<never>(() => {});
    const payOutcome = (r: ReturnType<TestNetwork["payInvoice"]>) => {
      if (s.dropAfterPay) dropClients(walletPubkey);
      if (r.status === "succeeded") {
        return {
          result: { preimage: s.kind === "no_preimage" ? "" : r.preimage, fees_paid: r.feeMsat },
          error: undefined,
        };
      }
      if (r.status === "pending") return never;
      return { result: undefined, error: { code: "PAYMENT_FAILED", message: r.reason } };
    };
    const handlers: Parameters<NWCWalletService["subscribe"]>[1] = {
      // A "silent" wallet answers everything but payments, so it can be connected first.
      getInfo: async () => ({
        result: {
          alias: `lab ${s.kind} wallet`,
          color: "#000000",
          pubkey: network.node(id).pubkey,
          network: "regtest",
          block_height: 1,
          block_hash: "00".repeat(32),
          methods: methods as never,
          notifications: ["payment_received", "payment_sent"],
        },
        error: undefined,
      }),
      getBalance: async () => ({ result: { balance: network.node(id).balanceMsat }, error: undefined }),
      makeInvoice: async (p) => {
        const inv = network.makeInvoice(id, {
          amountMsat: p.amount,
          description: p.description ?? "",
          expirySeconds: p.expiry ?? 3600,
        });
        return { result: txOf(inv, "incoming") as never, error: undefined };
      },
      payInvoice: async (p) => {
        if (s.kind === "silent") return never;
        if (s.payError) return { result: undefined, error: { code: s.payError, message: `lab says ${s.payError}` } };
        return payOutcome(network.payInvoice(id, p.invoice, p.amount)) as never;
      },
      payKeysend: async (p) => {
        if (s.kind === "silent") return never;
        if (s.payError) return { result: undefined, error: { code: s.payError, message: `lab says ${s.payError}` } };
        return payOutcome(network.keysend(id, p.pubkey, p.amount, p.preimage ?? hex32())) as never;
      },
      lookupInvoice: async (p) => {
        const hash = p.payment_hash ?? (p.invoice ? decodeInvoice(p.invoice).paymentHash : "");
        const out = network.payment(id, hash);
        if (out) {
          return {
            result: {
              type: "outgoing",
              state: out.status === "succeeded" ? "settled" : out.status,
              invoice: out.invoice ?? "",
              description: "",
              description_hash: "",
              preimage: out.preimage ?? "",
              payment_hash: hash,
              amount: out.amountMsat,
              fees_paid: out.feeMsat,
              settled_at: out.settledAt ?? 0,
              created_at: out.createdAt,
              expires_at: 0,
            } as never,
            error: undefined,
          };
        }
        const inv = network.invoices.get(hash);
        if (inv && inv.nodeId === id) return { result: txOf(inv, "incoming") as never, error: undefined };
        return { result: undefined, error: { code: "NOT_FOUND", message: "no such invoice" } };
      },
      listTransactions: async () => ({ result: { transactions: [], total_count: 0 }, error: undefined }),
    };
    // Every request is counted by its NIP-47 method before it is handled (payInvoice → pay_invoice).
    const counted = Object.fromEntries(
      Object.entries(handlers).map(([name, handler]) => [
        name,
        (...args: unknown[]) => {
          const method = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
          w.requests[method] = (w.requests[method] ?? 0) + 1;
          return (handler as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    ) as typeof handlers;
    const unsub = await service.subscribe(keypair, counted);
    unsubscribes.push(unsub);
    return { id, uri, pubkey: network.node(id).pubkey };
  }

  function txOf(inv: TestInvoice, type: "incoming" | "outgoing") {
    return {
      type,
      state: inv.status === "paid" ? "settled" : "pending",
      invoice: inv.invoice,
      description: inv.description ?? "",
      description_hash: "",
      preimage: inv.status === "paid" ? inv.preimage : "",
      payment_hash: inv.paymentHash,
      amount: inv.paidMsat ?? inv.amountMsat ?? 0,
      fees_paid: 0,
      settled_at: inv.paidAt ?? 0,
      created_at: inv.createdAt,
      expires_at: inv.expiresAt,
    };
  }

  // NIP-47 notifications: when an invoice of an NWC wallet is paid, tell its client.
  network.onPaid = (inv) => {
    const w = nwcWallets.get(inv.nodeId);
    if (!w || w.spec.kind === "silent") return;
    const clientPubkey = getPublicKey(hexToBytes(w.clientSecret));
    const body = JSON.stringify({ notification_type: "payment_received", notification: txOf(inv, "incoming") });
    const nip04Only = w.spec.kind === "nip04";
    const content = nip04Only
      ? nip04.encrypt(hexToBytes(w.walletSecret), clientPubkey, body)
      : nip44.encrypt(body, nip44.getConversationKey(hexToBytes(w.walletSecret), clientPubkey));
    const e = finalizeEvent(
      {
        kind: nip04Only ? 23196 : 23197,
        created_at: Math.floor(Date.now() / 1000),
        tags: [["p", clientPubkey]],
        content,
      },
      hexToBytes(w.walletSecret),
    );
    // After the payer's own reply (published from the I/O callbacks now pending): setImmediate
    // orders it behind them in the event loop, with no wait on the clock.
    setImmediate(() => void publish(e as RelayEvent));
  };

  /** Terminates client sockets: those subscribed to one wallet's events, or all of them. */
  function dropClients(walletPubkey?: string): number {
    let n = 0;
    for (const ws of sockets) {
      if (serviceSockets.has(ws)) continue;
      if (walletPubkey !== undefined && !socketAuthors.get(ws)?.has(walletPubkey)) continue;
      ws.terminate();
      n++;
    }
    return n;
  }

  /**
   * Answers a wallet's last pay_invoice request (NIP-44) with forged replies and then a genuine one, sent straight down
   * the client's socket (an honest relay would refuse the forged ones, a hostile relay would not):
   * one by another key, one that claims the wallet's key with another key's signature, and one
   * signed by the wallet but altered after signing. Each forged one carries `forged` as the result.
   */
  function forgeReplies(walletId: string, forged: Record<string, unknown>, genuine: Record<string, unknown>) {
    const w = nwcWallets.get(walletId);
    if (!w) throw new Error("no such NWC wallet");
    const walletKey = hexToBytes(w.walletSecret);
    const walletPubkey = getPublicKey(walletKey);
    const clientPubkey = getPublicKey(hexToBytes(w.clientSecret));
    const conversation = nip44.getConversationKey(walletKey, clientPubkey);
    const req = (requestsTo.get(walletPubkey) ?? [])
      .filter((r) => r.event.pubkey === clientPubkey)
      .findLast(
        (r) =>
          (JSON.parse(nip44.decrypt(r.event.content, conversation)) as { method: string }).method === "pay_invoice",
      );
    const subId = req && replySubs.get(req.ws)?.get(walletPubkey);
    if (!req || !subId) throw new Error("no pay_invoice request to answer");
    const reply = (result: Record<string, unknown>, key: Uint8Array) =>
      finalizeEvent(
        {
          kind: 23195,
          created_at: Math.floor(Date.now() / 1000),
          tags: [
            ["p", clientPubkey],
            ["e", req.event.id],
          ],
          content: nip44.encrypt(JSON.stringify({ result_type: "pay_invoice", result }), conversation),
        },
        key,
      );
    const impostor = reply(forged, hexToBytes(hex32()));
    const claimed = { ...reply(forged, walletKey), id: "", sig: "" };
    claimed.id = getEventHash(claimed);
    claimed.sig = bytesToHex(schnorr.sign(hexToBytes(claimed.id), hexToBytes(hex32())));
    const altered = { ...reply(genuine, walletKey), content: reply(forged, walletKey).content };
    const events = [impostor, claimed, altered, reply(genuine, walletKey)];
    for (const e of events) req.ws.send(JSON.stringify(["EVENT", subId, e]));
    return { sent: events.length };
  }

  /** LNbits answers held open by "hang" mode until their payment is resolved, by node:hash. */
  const heldAnswers = new Map<string, () => void>();
  network.onResolved = (p) => {
    const key = `${p.nodeId}:${p.paymentHash}`;
    heldAnswers.get(key)?.();
    heldAnswers.delete(key);
  };

  // ---- LNbits ---------------------------------------------------------------------------------

  function createLnbitsWallet(opts: { shape?: "current" | "old"; startSats?: number }) {
    const id = `lnbits-${lnbitsWallets.size + 1}-${randomBytes(3).toString("hex")}`;
    network.node(id, (opts.startSats ?? 1_000_000) * 1000);
    const w: LnbitsWalletState = {
      id,
      adminKey: hex32().slice(0, 32),
      invoiceKey: hex32().slice(0, 32),
      shape: opts.shape ?? "current",
    };
    lnbitsWallets.set(id, w);
    return { id, url: `${url}/lnbits`, admin_key: w.adminKey, invoice_key: w.invoiceKey };
  }

  function lnbitsPaymentBody(w: LnbitsWalletState, hash: string): [number, unknown] {
    const out = network.payment(w.id, hash);
    const inv = network.invoices.get(hash);
    if (out) {
      const status = out.status === "succeeded" ? "success" : out.status;
      const details = {
        amount: -out.amountMsat,
        fee: -out.feeMsat,
        preimage: out.preimage ?? "0".repeat(64),
        payment_hash: hash,
        pending: out.status === "pending",
        bolt11: out.invoice,
        time: out.createdAt,
      };
      return [
        200,
        w.shape === "old"
          ? { paid: out.status === "succeeded", preimage: out.preimage ?? "0".repeat(64), details }
          : {
              paid: out.status === "succeeded",
              status,
              preimage: out.preimage ?? "0".repeat(64),
              details: { ...details, status },
            },
      ];
    }
    if (inv && inv.nodeId === w.id) {
      const paid = inv.status === "paid";
      const status = paid ? "success" : "pending";
      const details = {
        amount: inv.paidMsat ?? inv.amountMsat ?? 0,
        fee: 0,
        preimage: inv.preimage,
        payment_hash: hash,
        pending: !paid,
        bolt11: inv.invoice,
        time: inv.paidAt ?? inv.createdAt,
        expiry: inv.expiresAt,
      };
      return [
        200,
        w.shape === "old"
          ? { paid, preimage: paid ? inv.preimage : "0".repeat(64), details }
          : { paid, status, preimage: paid ? inv.preimage : "0".repeat(64), details: { ...details, status } },
      ];
    }
    return [404, { detail: "Payment does not exist." }];
  }

  async function lnbits(req: IncomingMessage, path: string, body: Record<string, unknown>): Promise<[number, unknown]> {
    const key = String(req.headers["x-api-key"] ?? "");
    const w = [...lnbitsWallets.values()].find((x) => x.adminKey === key || x.invoiceKey === key);
    if (!w) return [401, { detail: "Invalid key" }];
    const admin = w.adminKey === key;
    if (path === "/api/v1/wallet" && req.method === "GET") {
      const base = { name: `lab ${w.shape}`, balance: network.node(w.id).balanceMsat };
      return [200, admin ? { id: w.id, ...base } : base];
    }
    if (path === "/api/v1/payments" && req.method === "POST") {
      if (body.out === true) {
        if (!admin) return [401, { detail: "Invalid adminkey." }];
        if (typeof body.bolt11 !== "string") return [400, { detail: "bolt11 required" }];
        let hash: string;
        try {
          hash = decodeInvoice(body.bolt11).paymentHash;
        } catch {
          return [400, { detail: "Invalid bolt11 invoice." }];
        }
        const r = network.payInvoice(w.id, body.bolt11);
        if (r.status === "pending" && network.node(w.id).mode === "hang") {
          // A hung LNbits: no answer until the payment is resolved (the caller times out first).
          await new Promise<void>((resolve) => heldAnswers.set(`${w.id}:${hash}`, resolve));
          return [201, { payment_hash: hash, checking_id: hash, ...(lnbitsPaymentBody(w, hash)[1] as object) }];
        }
        if (r.status === "failed") {
          if (/insufficient/.test(r.reason)) return [400, { detail: "Insufficient balance." }];
          return w.shape === "old"
            ? [520, { detail: `Payment failed: ${r.reason}` }]
            : [400, { detail: `Payment failed: ${r.reason}` }];
        }
        if (w.shape === "old") return [201, { payment_hash: hash, checking_id: hash }];
        const [, p] = lnbitsPaymentBody(w, hash);
        return [
          201,
          {
            payment_hash: hash,
            checking_id: hash,
            ...(p as object),
            status: r.status === "succeeded" ? "success" : "pending",
          },
        ];
      }
      const amount = Number(body.amount);
      if (!Number.isInteger(amount) || amount < 1) return [400, { detail: "amount required" }];
      const inv = network.makeInvoice(w.id, {
        amountMsat: amount * 1000,
        description: String(body.memo ?? ""),
        expirySeconds: Number(body.expiry ?? 3600),
      });
      return [
        201,
        w.shape === "old"
          ? { payment_hash: inv.paymentHash, payment_request: inv.invoice, checking_id: inv.paymentHash }
          : {
              payment_hash: inv.paymentHash,
              bolt11: inv.invoice,
              payment_request: inv.invoice,
              checking_id: inv.paymentHash,
            },
      ];
    }
    const m = /^\/api\/v1\/payments\/([0-9a-f]{64})$/.exec(path);
    if (m && req.method === "GET") return lnbitsPaymentBody(w, m[1]!);
    return [404, { detail: "Not found" }];
  }

  // ---- LNURL ----------------------------------------------------------------------------------

  /** A pay endpoint's behaviour: honest, or lying in one way. */
  const payTargets = new Map<
    string,
    { nodeId: string; min: number; max: number; comment: number; lie: "none" | "amount" | "hash" }
  >();
  const withdraws = new Map<string, { nodeId: string; min: number; max: number; used: boolean }>();
  const authChallenges = new Map<string, { used: boolean; keys: string[] }>();

  function metadataOf(name: string) {
    return JSON.stringify([
      ["text/plain", `Pay ${name} at the lab`],
      ["text/identifier", `${name}@127.0.0.1:${port}`],
    ]);
  }

  function lnurl(path: string, q: URLSearchParams): [number, unknown] {
    let m = /^\/\.well-known\/lnurlp\/([a-z0-9._-]+)$/.exec(path);
    if (m) {
      const t = payTargets.get(m[1]!);
      if (!t) return [404, { status: "ERROR", reason: "unknown user" }];
      return [
        200,
        {
          tag: "payRequest",
          callback: `${url}/lnurl/pay/${m[1]}`,
          minSendable: t.min,
          maxSendable: t.max,
          metadata: metadataOf(m[1]!),
          commentAllowed: t.comment,
        },
      ];
    }
    m = /^\/lnurl\/pay\/([a-z0-9._-]+)$/.exec(path);
    if (m) {
      const name = m[1]!;
      const t = payTargets.get(name);
      if (!t) return [404, { status: "ERROR", reason: "unknown user" }];
      const amount = Number(q.get("amount"));
      if (!(amount >= t.min && amount <= t.max)) return [200, { status: "ERROR", reason: "amount out of range" }];
      const comment = q.get("comment");
      if (comment && comment.length > t.comment) return [200, { status: "ERROR", reason: "comment too long" }];
      const hash = bytesToHex(sha256(utf8ToBytes(t.lie === "hash" ? metadataOf("someone-else") : metadataOf(name))));
      const inv = network.makeInvoice(t.nodeId, {
        amountMsat: t.lie === "amount" ? amount + 1000 : amount,
        descriptionHash: hash,
      });
      return [
        200,
        {
          pr: inv.invoice,
          routes: [],
          successAction: { tag: "message", message: `Thanks${comment ? `: ${comment}` : ""}` },
        },
      ];
    }
    m = /^\/lnurl\/withdraw\/([0-9a-f]+)$/.exec(path);
    if (m) {
      const w = withdraws.get(m[1]!);
      if (!w) return [404, { status: "ERROR", reason: "unknown link" }];
      return [
        200,
        {
          tag: "withdrawRequest",
          callback: `${url}/lnurl/withdraw-cb`,
          k1: m[1],
          minWithdrawable: w.min,
          maxWithdrawable: w.max,
          defaultDescription: "lab withdrawal",
        },
      ];
    }
    if (path === "/lnurl/withdraw-cb") {
      const w = withdraws.get(q.get("k1") ?? "");
      if (!w || w.used) return [200, { status: "ERROR", reason: "unknown or used k1" }];
      const pr = q.get("pr") ?? "";
      let amount: number | null;
      try {
        amount = decodeInvoice(pr).amountMsat;
      } catch {
        return [200, { status: "ERROR", reason: "bad invoice" }];
      }
      if (amount === null || amount < w.min || amount > w.max)
        return [200, { status: "ERROR", reason: "amount out of range" }];
      w.used = true;
      const r = network.payInvoice(w.nodeId, pr);
      return [200, r.status === "failed" ? { status: "ERROR", reason: r.reason } : { status: "OK" }];
    }
    if (path === "/lnurl/auth") {
      const k1 = q.get("k1") ?? "";
      const c = authChallenges.get(k1);
      if (q.get("tag") !== "login") return [200, { status: "ERROR", reason: "tag must be login" }];
      if (!c || c.used) return [200, { status: "ERROR", reason: "unknown or used k1" }];
      const sig = q.get("sig") ?? "";
      const key = q.get("key") ?? "";
      let valid: boolean;
      try {
        valid = secp256k1.verify(hexToBytes(sig), hexToBytes(k1), hexToBytes(key), {
          prehash: false,
          format: "der",
          lowS: false,
        });
      } catch {
        valid = false;
      }
      if (!valid) return [200, { status: "ERROR", reason: "bad signature" }];
      c.used = true;
      c.keys.push(key);
      return [200, { status: "OK" }];
    }
    return [404, { status: "ERROR", reason: "not found" }];
  }

  // ---- control --------------------------------------------------------------------------------

  async function control(b: Record<string, unknown>): Promise<unknown> {
    switch (b.op) {
      case "nwc_wallet":
        return createNwcWallet(b as NwcWalletSpec);
      case "lnbits_wallet":
        return createLnbitsWallet(b as { shape?: "current" | "old" });
      case "invoice": {
        const node = String(b.node ?? "merchant");
        network.node(node);
        const inv = network.makeInvoice(node, {
          amountMsat: Number(b.amount_sats) * 1000,
          description: String(b.description ?? "lab merchant"),
          expirySeconds: Number(b.expiry ?? 3600),
          ...(b.timestamp === undefined ? {} : { timestamp: Number(b.timestamp) }),
        });
        return { invoice: inv.invoice, payment_hash: inv.paymentHash };
      }
      case "node":
        network.node(String(b.node), Number(b.start_msat ?? 0));
        return { pubkey: network.node(String(b.node)).pubkey, balance_msat: network.node(String(b.node)).balanceMsat };
      case "pay":
        return network.payInvoice(String(b.node), String(b.invoice));
      case "mode":
        network.node(String(b.node)).mode = b.mode as PayMode;
        return { ok: true };
      case "resolve":
        return network.resolvePending(String(b.node), String(b.payment_hash), b.result as "succeeded" | "failed");
      case "await_attempt":
        // Answers once a payment of this hash has reached a node (the wallet holds it, or paid it).
        await network.waitForAttempt(String(b.payment_hash), b.node === undefined ? undefined : String(b.node));
        return { ok: true };
      case "nwc_requests":
        return { requests: nwcWallets.get(String(b.id))?.requests ?? {} };
      case "attempts":
        return {
          attempts: network.attempts.filter((a) => a.paymentHash === b.payment_hash || b.payment_hash === undefined)
            .length,
        };
      case "invoice_status": {
        const inv = network.invoices.get(String(b.payment_hash));
        // The preimage once paid: what the paying wallet would show for the payment.
        return inv
          ? { status: inv.status, paid_msat: inv.paidMsat, preimage: inv.status === "paid" ? inv.preimage : null }
          : { status: "unknown" };
      }
      case "forge_replies":
        return forgeReplies(String(b.id), b.forged as Record<string, unknown>, b.genuine as Record<string, unknown>);
      case "drop":
        return { dropped: dropClients(b.wallet_pubkey === undefined ? undefined : String(b.wallet_pubkey)) };
      case "relay_stats":
        return {
          connections: relayConnections,
          open: sockets.size - serviceSockets.size,
          messages: { REQ: 0, EVENT: 0, CLOSE: 0, ...clientMessages },
        };
      case "pay_target": {
        const name = String(b.name);
        const node = `lnurl-${name}`;
        network.node(node);
        payTargets.set(name, {
          nodeId: node,
          min: Number(b.min_msat ?? 1000),
          max: Number(b.max_msat ?? 1_000_000_000),
          comment: Number(b.comment ?? 0),
          lie: (b.lie as "none") ?? "none",
        });
        return { address: `${name}@127.0.0.1:${port}`, node };
      }
      case "withdraw_link": {
        const k1 = hex32();
        const node = "lnurl-withdraw-service";
        network.node(node, 10_000_000_000);
        withdraws.set(k1, {
          nodeId: node,
          min: Number(b.min_msat ?? 1000),
          max: Number(b.max_msat ?? 100_000),
          used: false,
        });
        return { url: `${url}/lnurl/withdraw/${k1}`, k1 };
      }
      case "auth_challenge": {
        const k1 = hex32();
        authChallenges.set(k1, { used: false, keys: [] });
        return { url: `${url}/lnurl/auth?tag=login&k1=${k1}&action=login`, k1 };
      }
      case "auth_keys":
        return { keys: authChallenges.get(String(b.k1))?.keys ?? [] };
      default:
        throw new Error(`unknown op ${String(b.op)}`);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? "/", url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: Record<string, unknown>;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    let status = 200;
    let out: unknown;
    try {
      if (u.pathname === "/control" && req.method === "POST") out = await control(body);
      else if (u.pathname.startsWith("/lnbits/"))
        [status, out] = await lnbits(req, u.pathname.slice("/lnbits".length), body);
      else [status, out] = lnurl(u.pathname, u.searchParams);
    } catch (e) {
      status = 500;
      out = { detail: e instanceof Error ? e.message : String(e) };
    }
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  }

  return {
    url,
    relayUrl,
    network,
    createNwcWallet,
    async stop() {
      for (const u of unsubscribes) u();
      service.close();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await relay.destroy();
      for (const release of heldAnswers.values()) release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
