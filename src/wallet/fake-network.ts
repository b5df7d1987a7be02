import { DurableObject } from "cloudflare:workers";
import { hexToBytes } from "@noble/hashes/utils.js";
import { encodeInvoice, nodePublicKey, type Network } from "../lightning/bolt11";
import { paymentHashOf } from "../lightning/preimage";
import { random32Hex } from "../ids";
import type { Msat } from "../money";
import type { InvoiceState, MadeInvoice, PaymentOutcome } from "./backend";

/**
 * How a fake node answers pay_invoice, so tests can drive every branch of the money path.
 * "bad_preimage" routes the payment but answers with a preimage that does not match: a lying wallet.
 */
export type FakeMode = "normal" | "fail" | "timeout" | "hang" | "bad_preimage";

/** Identifies a fake node and the balance it starts with the first time it is used. */
export interface NodeRef {
  id: string;
  startMsat: number;
}

interface NodeRow extends Record<string, SqlStorageValue> {
  id: string;
  private_key: string;
  balance_msat: number;
  mode: FakeMode;
  fee_msat: number;
}

interface InvoiceRow extends Record<string, SqlStorageValue> {
  payment_hash: string;
  node_id: string;
  preimage: string;
  amount_msat: number | null;
  status: "open" | "paid";
  expires_at: number;
  paid_at: number | null;
  paid_amount_msat: number | null;
}

interface PaymentRow extends Record<string, SqlStorageValue> {
  node_id: string;
  payment_hash: string;
  status: "pending" | "succeeded" | "failed";
  amount_msat: number;
  fee_msat: number;
  preimage: string | null;
  reason: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nodes (
  id TEXT PRIMARY KEY, private_key TEXT NOT NULL, balance_msat INTEGER NOT NULL,
  mode TEXT NOT NULL DEFAULT 'normal', fee_msat INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS invoices (
  payment_hash TEXT PRIMARY KEY, node_id TEXT NOT NULL, preimage TEXT NOT NULL, amount_msat INTEGER,
  status TEXT NOT NULL, expires_at INTEGER NOT NULL, paid_at INTEGER, paid_amount_msat INTEGER);
CREATE TABLE IF NOT EXISTS payments (
  node_id TEXT NOT NULL, payment_hash TEXT NOT NULL, status TEXT NOT NULL, amount_msat INTEGER NOT NULL,
  fee_msat INTEGER NOT NULL, preimage TEXT, reason TEXT, PRIMARY KEY (node_id, payment_hash));
`;

/**
 * A whole Lightning network in one Durable Object, in the spirit of LNbits' FakeWallet: every node
 * signs real BOLT 11 invoices with its own key, and payments between nodes settle at once with real
 * preimages. Each operator's fake wallet is one node; tests add "external" nodes as merchants.
 */
export class FakeLightningNetwork extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Payments held open by "hang" mode, released by release(). In memory on purpose: eviction drops them. */
  private readonly hung = new Map<string, (outcome: PaymentOutcome) => void>();
  /** A node's key never changes, and deriving its public key is the costliest part of info(). */
  private readonly pubkeys = new Map<string, string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  private node(ref: NodeRef): NodeRow {
    const existing = this.sql.exec<NodeRow>("SELECT * FROM nodes WHERE id = ?", ref.id).toArray()[0];
    if (existing) return existing;
    this.sql.exec(
      "INSERT INTO nodes (id, private_key, balance_msat) VALUES (?, ?, ?)",
      ref.id,
      random32Hex(),
      ref.startMsat,
    );
    return this.node(ref);
  }

  /** Public key and balance of a node (created on first use). */
  info(ref: NodeRef): { pubkey: string; balanceMsat: number } {
    const n = this.node(ref);
    let pubkey = this.pubkeys.get(n.id);
    if (pubkey === undefined) {
      pubkey = nodePublicKey(hexToBytes(n.private_key));
      this.pubkeys.set(n.id, pubkey);
    }
    return { pubkey, balanceMsat: n.balance_msat };
  }

  /** Issues a signed invoice from this node; the network keeps its preimage. */
  makeInvoice(
    ref: NodeRef,
    req: { amountMsat: number | null; description: string; expirySeconds: number; network: Network; now: number },
  ): MadeInvoice {
    const n = this.node(ref);
    const preimage = random32Hex();
    const paymentHash = paymentHashOf(preimage);
    const invoice = encodeInvoice({
      network: req.network,
      ...(req.amountMsat === null ? {} : { amountMsat: req.amountMsat }),
      paymentHash,
      paymentSecret: random32Hex(),
      description: req.description,
      expirySeconds: req.expirySeconds,
      timestamp: req.now,
      privateKey: hexToBytes(n.private_key),
    });
    const expiresAt = req.now + req.expirySeconds;
    this.sql.exec(
      "INSERT INTO invoices (payment_hash, node_id, preimage, amount_msat, status, expires_at) VALUES (?, ?, ?, ?, 'open', ?)",
      paymentHash,
      n.id,
      preimage,
      req.amountMsat,
      expiresAt,
    );
    return { invoice, paymentHash, preimage, expiresAt };
  }

  /** Pays an invoice issued anywhere in this network, honouring the node's mode. */
  async payInvoice(
    ref: NodeRef,
    req: { paymentHash: string; amountMsat: number; feeLimitMsat: number; now: number },
  ): Promise<PaymentOutcome> {
    const n = this.node(ref);
    // Like a real node: a second payment of a settled hash fails, one still in flight stays pending.
    const prior = this.payment(n.id, req.paymentHash);
    if (prior?.status === "succeeded") return { status: "failed", reason: "invoice already paid" };
    if (prior?.status === "pending") return { status: "pending" };
    if (n.mode === "fail") return this.finish(n.id, req, { status: "failed", reason: "simulated failure" });
    this.sql.exec(
      `INSERT OR REPLACE INTO payments (node_id, payment_hash, status, amount_msat, fee_msat)
       VALUES (?, ?, 'pending', ?, 0)`,
      n.id,
      req.paymentHash,
      req.amountMsat,
    );
    if (n.mode === "timeout") return { status: "pending" };
    if (n.mode === "hang") {
      return new Promise<PaymentOutcome>((resolve) => this.hung.set(`${n.id}:${req.paymentHash}`, resolve));
    }
    const outcome = this.route(n, req);
    if (n.mode === "bad_preimage" && outcome.status === "succeeded") return { ...outcome, preimage: random32Hex() };
    return outcome;
  }

  private route(
    n: NodeRow,
    req: { paymentHash: string; amountMsat: number; feeLimitMsat: number; now: number },
  ): PaymentOutcome {
    const inv = this.sql
      .exec<InvoiceRow>("SELECT * FROM invoices WHERE payment_hash = ?", req.paymentHash)
      .toArray()[0];
    if (!inv) return this.finish(n.id, req, { status: "failed", reason: "no route to destination" });
    if (inv.status === "paid") return this.finish(n.id, req, { status: "failed", reason: "invoice already paid" });
    if (inv.expires_at <= req.now) return this.finish(n.id, req, { status: "failed", reason: "invoice expired" });
    if (inv.amount_msat !== null && inv.amount_msat !== req.amountMsat) {
      return this.finish(n.id, req, { status: "failed", reason: "incorrect payment amount" });
    }
    const feeMsat = inv.node_id === n.id ? 0 : n.fee_msat;
    if (feeMsat > req.feeLimitMsat) return this.finish(n.id, req, { status: "failed", reason: "fee limit too low" });
    if (n.balance_msat < req.amountMsat + feeMsat) {
      return this.finish(n.id, req, { status: "failed", reason: "insufficient balance" });
    }
    this.sql.exec("UPDATE nodes SET balance_msat = balance_msat - ? WHERE id = ?", req.amountMsat + feeMsat, n.id);
    this.sql.exec("UPDATE nodes SET balance_msat = balance_msat + ? WHERE id = ?", req.amountMsat, inv.node_id);
    this.sql.exec(
      "UPDATE invoices SET status = 'paid', paid_at = ?, paid_amount_msat = ? WHERE payment_hash = ?",
      req.now,
      req.amountMsat,
      inv.payment_hash,
    );
    return this.finish(n.id, req, { status: "succeeded", preimage: inv.preimage, feeMsat: feeMsat as Msat });
  }

  private finish(
    nodeId: string,
    req: { paymentHash: string; amountMsat: number },
    outcome: PaymentOutcome,
  ): PaymentOutcome {
    this.sql.exec(
      `INSERT OR REPLACE INTO payments (node_id, payment_hash, status, amount_msat, fee_msat, preimage, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      nodeId,
      req.paymentHash,
      outcome.status,
      req.amountMsat,
      outcome.status === "succeeded" ? outcome.feeMsat : 0,
      outcome.status === "succeeded" ? outcome.preimage : null,
      outcome.status === "failed" ? outcome.reason : null,
    );
    return outcome;
  }

  private payment(nodeId: string, paymentHash: string): PaymentRow | undefined {
    return this.sql
      .exec<PaymentRow>("SELECT * FROM payments WHERE node_id = ? AND payment_hash = ?", nodeId, paymentHash)
      .toArray()[0];
  }

  /** What became of a payment this node attempted. */
  lookupPayment(ref: NodeRef, paymentHash: string): PaymentOutcome | { status: "unknown" } {
    const p = this.payment(ref.id, paymentHash);
    return p ? toOutcome(p) : { status: "unknown" };
  }

  /** Whether an invoice this node issued has been paid. */
  lookupInvoice(ref: NodeRef, paymentHash: string, now: number): InvoiceState {
    const inv = this.sql
      .exec<InvoiceRow>("SELECT * FROM invoices WHERE payment_hash = ? AND node_id = ?", paymentHash, ref.id)
      .toArray()[0];
    if (!inv) return { status: "unknown" };
    if (inv.status === "paid") {
      return {
        status: "paid",
        preimage: inv.preimage,
        amountMsat: (inv.paid_amount_msat ?? 0) as Msat,
        settledAt: inv.paid_at ?? now,
      };
    }
    return inv.expires_at <= now ? { status: "expired" } : { status: "open" };
  }

  // ---- test and operator controls -------------------------------------------------------------

  /** Makes the node's next payments fail, time out (outcome unknown), hang, or behave normally. */
  setMode(ref: NodeRef, mode: FakeMode): void {
    this.node(ref);
    this.sql.exec("UPDATE nodes SET mode = ? WHERE id = ?", mode, ref.id);
  }

  /** Routing fee charged by this node for payments to other nodes. */
  setFee(ref: NodeRef, feeMsat: number): void {
    this.node(ref);
    this.sql.exec("UPDATE nodes SET fee_msat = ? WHERE id = ?", feeMsat, ref.id);
  }

  /**
   * Ends a payment left pending by "timeout" or "hang": "succeeded" routes it for real (so the
   * payee's invoice is paid and the preimage released), "failed" fails it.
   */
  resolvePending(ref: NodeRef, paymentHash: string, result: "succeeded" | "failed", now: number): PaymentOutcome {
    const n = this.node(ref);
    const p = this.payment(n.id, paymentHash);
    if (!p || p.status !== "pending") throw new Error("no pending payment with that hash");
    const req = { paymentHash, amountMsat: p.amount_msat, feeLimitMsat: Number.MAX_SAFE_INTEGER, now };
    const outcome =
      result === "succeeded"
        ? this.route(n, req)
        : this.finish(n.id, req, { status: "failed", reason: "simulated failure" });
    const key = `${n.id}:${paymentHash}`;
    this.hung.get(key)?.(outcome);
    this.hung.delete(key);
    return outcome;
  }

  /** Number of payments currently held by "hang" mode in this instance. */
  hungCount(): number {
    return this.hung.size;
  }
}

function toOutcome(p: PaymentRow): PaymentOutcome {
  if (p.status === "succeeded") return { status: "succeeded", preimage: p.preimage, feeMsat: p.fee_msat as Msat };
  if (p.status === "failed") return { status: "failed", reason: p.reason ?? "failed" };
  return { status: "pending" };
}
