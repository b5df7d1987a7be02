import { DurableObject } from "cloudflare:workers";
import { ledgerStub } from "../ledger/client";
import { sameConnection, storedWalletQuery, type StoredWalletRow } from "./connection";
import { NwcClient, parseNwcUri, type NwcNotification } from "./nwc-client";
import { callClient, describeClient, type NwcCallResult, type NwcDescribeResult, type NwcTransport } from "./nwc";

/** SQLite schema of one OperatorDesk object; docs/storage.md describes it. */
const DESK_SCHEMA = `
CREATE TABLE IF NOT EXISTS invoices (
  payment_hash TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  amount_msat INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
  payment_hash TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_by_expiry ON invoices (expires_at);
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
`;

/**
 * How long the desk trusts the wallet connection it read from D1. connectWallet tells the desk at
 * once (walletChanged); the limit only matters if that call was lost, and then bounds how long
 * payments keep going to the operator's previous wallet.
 */
const WALLET_ROW_TTL_MS = 10_000;

/**
 * Rows of invoices that expired this long ago are dropped. No one can pay an expired invoice (the
 * ledger refuses it before claiming, and nodes refuse it too), so neither its claim nor its issuer
 * is needed any more; the day leaves room for clocks and for a payment that raced the expiry.
 */
const EXPIRED_KEPT_S = 24 * 3600;
/** At most one pruning pass per this interval in each running desk. */
const PRUNE_EVERY_MS = 3600_000;

/** An agent's claim on an invoice, as the ledger asks for it. */
export interface DeskClaimRequest {
  operatorId: string;
  paymentHash: string;
  agentId: string;
  at: number;
  /** The invoice's expiry (unix seconds): the claim is dropped a day after it. */
  expiresAt: number;
}

/** A claim made in the same call as the NWC payment it guards (claimAndCall). */
export interface DeskPayClaim extends DeskClaimRequest {
  /** The connection the ledger reserved the payment under (as read from this desk before): nothing goes out over another. */
  wallet: StoredWalletRow;
}

/** Why claimAndCall sent nothing. The ledger has reserved the payment and decides what follows. */
export type DeskRefusal =
  /** The operator connected another wallet since the ledger read the connection. No claim was made. */
  | { refused: "wallet_changed"; wallet: StoredWalletRow | null }
  /** The paying agent issued the invoice itself. No claim was made. */
  | { refused: "own_invoice" }
  /** Another agent of this operator issued it: the claim is the payer's, the payment stays inside Satchel. */
  | { refused: "issued_here"; owner: string }
  /** Another agent of this operator holds the claim. */
  | { refused: "claimed" };

/** What a payment learns from the desk before it reserves anything. */
export interface DeskClaim {
  /** The agent of this operator that issued the invoice, if one did (the payment then stays inside Satchel). */
  owner: string | null;
  /** The agent that holds the right to pay the invoice: the first to claim it. */
  claimant: string;
  /** The operator's wallet connection (sealed), as stored in D1. */
  wallet: StoredWalletRow | null;
}

/**
 * One operator's desk, named by the operator id: the register of the invoices its agents issued,
 * the claims that let only one of its agents pay an invoice, and the live NWC connection.
 *
 * It sits on the payment path so that a payment makes no D1 round trip before it reaches the
 * wallet: one call here routes and claims the invoice and returns the wallet connection, which the
 * desk keeps after reading it from D1 (connectWallet tells it when the connection changes).
 *
 * Holding the relay sockets here lets every agent of the operator (and every Worker request)
 * reuse one warm NWC connection: no relay handshake, info fetch or subscription per payment. The
 * NWC URI comes with each call, so a changed connection replaces the client at once. While
 * connected, the desk hears the wallet's payment_received notifications and asks the ledger of the
 * agent whose invoice was paid to check it (that ledger asks the wallet before crediting).
 */
export class OperatorDesk extends DurableObject<Env> {
  private client: NwcClient | null = null;
  private uri: string | null = null;
  private wallet: { row: StoredWalletRow | null; readAt: number } | null = null;
  private prunedAt = 0;
  /** Payment calls served by this instance (stats: a warm payment is one claimAndCall, a cold one a claim and a pay call). */
  private readonly served = { claim: 0, payCall: 0, claimAndCall: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(DESK_SCHEMA);
  }

  /**
   * Routes an invoice and claims it for an agent: who issued it (null: not this operator's agents),
   * which agent may pay it (the first to claim; the claim is durable before the answer leaves), and
   * the operator's wallet connection. The connection is read before the claim is written, so a
   * failed read leaves no claim behind.
   */
  async claim(c: DeskClaimRequest): Promise<DeskClaim> {
    this.served.claim++;
    const wallet = await this.storedWallet(c.operatorId);
    const claimant = this.claimFor(c);
    return { owner: this.ownerOf(c.paymentHash), claimant, wallet };
  }

  /**
   * The warm path of an NWC payment, one call instead of claim then call: the ledger has already
   * reserved the payment under the connection it names; the desk claims the invoice and sends the
   * request, or sends nothing and says why (DeskRefusal). The claim is durable before the request
   * leaves, as on the claim-first path.
   */
  async claimAndCall(
    c: DeskPayClaim,
    uri: string,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<{ sent: NwcCallResult } | DeskRefusal> {
    this.served.claimAndCall++;
    const wallet = await this.storedWallet(c.operatorId);
    if (!sameConnection(wallet, c.wallet)) return { refused: "wallet_changed", wallet };
    const owner = this.ownerOf(c.paymentHash);
    if (owner === c.agentId) return { refused: "own_invoice" };
    if (this.claimFor(c) !== c.agentId) return { refused: "claimed" };
    if (owner !== null) return { refused: "issued_here", owner };
    // Waits for the claim's commit (the output gate would hold the socket write for it too; this
    // says so here, next to the rule: no payment leaves before the claim that guards it is durable).
    await this.ctx.storage.sync();
    return { sent: await callClient(this.clientFor(uri), method, params, timeoutMs) };
  }

  /** Gives up a claim after a payment definitely failed, so the invoice may be paid again. */
  async releaseClaim(c: { paymentHash: string; agentId: string }): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM claims WHERE payment_hash = ? AND agent_id = ?", c.paymentHash, c.agentId);
  }

  /** Records the agent that issued an invoice, so the operator's other agents pay it inside Satchel. */
  async recordInvoice(row: {
    paymentHash: string;
    agentId: string;
    amountMsat: number | null;
    createdAt: number;
    expiresAt: number;
  }): Promise<void> {
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO invoices (payment_hash, agent_id, amount_msat, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      row.paymentHash,
      row.agentId,
      row.amountMsat,
      row.createdAt,
      row.expiresAt,
    );
  }

  /** The agent that issued an invoice, if one of this operator's agents did. */
  async invoiceOwner(paymentHash: string): Promise<string | null> {
    return this.ownerOf(paymentHash);
  }

  /** The operator connected another wallet: forget the connection and drop the NWC sockets. */
  async walletChanged(): Promise<void> {
    this.wallet = null;
    this.client?.close();
    this.client = null;
    this.uri = null;
  }

  /** One NIP-47 request over the warm connection. */
  async call(uri: string, method: string, params: Record<string, unknown>, timeoutMs: number): Promise<NwcCallResult> {
    if (method.startsWith("pay_")) this.served.payCall++;
    return callClient(this.clientFor(uri), method, params, timeoutMs);
  }

  async describe(uri: string): Promise<NwcDescribeResult> {
    return describeClient(this.clientFor(uri));
  }

  /**
   * Relay sockets opened so far by the current client (flat while payments reuse the connection),
   * and the calls this instance served.
   */
  async stats(): Promise<{
    connects: number;
    connected: boolean;
    served: { claim: number; payCall: number; claimAndCall: number };
  }> {
    return {
      connects: this.client?.connects ?? 0,
      connected: this.client?.connected ?? false,
      served: { ...this.served },
    };
  }

  /** Claims the invoice for the agent unless another agent holds it; returns the holder of the claim. */
  private claimFor(c: DeskClaimRequest): string {
    this.prune();
    const sql = this.ctx.storage.sql;
    sql.exec(
      "INSERT INTO claims (payment_hash, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (payment_hash) DO NOTHING",
      c.paymentHash,
      c.agentId,
      c.at,
      c.expiresAt,
    );
    return sql.exec<{ agent_id: string }>("SELECT agent_id FROM claims WHERE payment_hash = ?", c.paymentHash).one()
      .agent_id;
  }

  /** Drops the invoices and claims of invoices that expired over a day ago; at most once an hour. */
  private prune(): void {
    const now = Date.now();
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    const before = Math.floor(now / 1000) - EXPIRED_KEPT_S;
    this.ctx.storage.sql.exec("DELETE FROM claims WHERE expires_at < ?", before);
    this.ctx.storage.sql.exec("DELETE FROM invoices WHERE expires_at < ?", before);
  }

  private ownerOf(paymentHash: string): string | null {
    return (
      this.ctx.storage.sql
        .exec<{ agent_id: string }>("SELECT agent_id FROM invoices WHERE payment_hash = ?", paymentHash)
        .toArray()[0]?.agent_id ?? null
    );
  }

  private async storedWallet(operatorId: string): Promise<StoredWalletRow | null> {
    const now = Date.now();
    if (this.wallet && now - this.wallet.readAt < WALLET_ROW_TTL_MS) return this.wallet.row;
    const row = await storedWalletQuery(this.env, operatorId).first<StoredWalletRow>();
    this.wallet = { row, readAt: now };
    return row;
  }

  private clientFor(uri: string): NwcClient {
    if (this.client && this.uri === uri) return this.client;
    this.client?.close();
    this.uri = uri;
    this.client = new NwcClient(parseNwcUri(uri), { onNotification: (n) => this.onNotification(n) });
    return this.client;
  }

  private onNotification(n: NwcNotification): void {
    if (n.notification_type !== "payment_received") return;
    const hash = n.notification.payment_hash;
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/i.test(hash)) return;
    const paymentHash = hash.toLowerCase();
    const owner = this.ownerOf(paymentHash);
    if (!owner) return;
    this.ctx.waitUntil(
      (async () => {
        try {
          // invoiceStatus asks the wallet again: a notification alone never credits anyone.
          await ledgerStub(this.env, owner).invoiceStatus(paymentHash);
        } catch (e) {
          console.warn("NWC notification not applied", { error: e instanceof Error ? e.name : "unknown" });
        }
      })(),
    );
  }
}

/**
 * NwcTransport over the operator's desk. Given a claim, its one call goes to claimAndCall: when the
 * desk refuses, the call reports that nothing was sent and `refusal` says why.
 */
export class DeskNwcTransport implements NwcTransport {
  refusal: DeskRefusal | null = null;

  constructor(
    private readonly stub: DurableObjectStub<OperatorDesk>,
    private readonly uri: string,
    private readonly claim: DeskPayClaim | null = null,
  ) {}

  async call(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<NwcCallResult> {
    try {
      if (this.claim === null) return (await this.stub.call(this.uri, method, params, timeoutMs)) as NwcCallResult;
      const answer = (await this.stub.claimAndCall(this.claim, this.uri, method, params, timeoutMs)) as
        { sent: NwcCallResult } | DeskRefusal;
      if ("sent" in answer) return answer.sent;
      this.refusal = answer;
      return { ok: false, error: "unavailable", message: `not sent: ${answer.refused}` };
    } catch {
      // The desk broke mid-call (evicted, reset): the request may have left.
      return { ok: false, error: "timeout" };
    }
  }

  async describe(): Promise<NwcDescribeResult> {
    try {
      return (await this.stub.describe(this.uri)) as NwcDescribeResult;
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message.slice(0, 200) : "desk unavailable" };
    }
  }
}
