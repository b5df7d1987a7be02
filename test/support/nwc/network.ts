// A test Lightning network for the Node side of the tests: nodes with keys and balances, real
// signed BOLT 11 invoices (src/lightning/bolt11.ts encodeInvoice) and real preimages. The NWC wallet
// services, the LNbits server and the LNURL services in this folder are all nodes of one network,
// so a payment made through Satchel moves sats between them exactly once, and tests can see it.
import { randomBytes } from "node:crypto";
import { hexToBytes } from "@noble/hashes/utils.js";
import { decodeInvoice, encodeInvoice, nodePublicKey } from "../../../src/lightning/bolt11";
import { paymentHashOf } from "../../../src/lightning/preimage";

/**
 * How a node answers a payment: at once, failing, left pending (until resolvePending), or lying.
 * "hang" is "pending" for the network; the wallet front ends also hold their answer open (the
 * LNbits API does not respond; an NWC wallet never replies, as with "pending").
 */
export type PayMode = "normal" | "fail" | "pending" | "hang" | "no_preimage" | "bad_preimage";

export interface Node {
  id: string;
  key: Uint8Array;
  pubkey: string;
  balanceMsat: number;
  feeMsat: number;
  mode: PayMode;
}

export interface TestInvoice {
  paymentHash: string;
  nodeId: string;
  preimage: string;
  invoice: string;
  amountMsat: number | null;
  description: string | null;
  status: "open" | "paid";
  createdAt: number;
  expiresAt: number;
  paidAt: number | null;
  paidMsat: number | null;
}

export interface TestPayment {
  nodeId: string;
  paymentHash: string;
  invoice: string | null;
  status: "pending" | "succeeded" | "failed";
  amountMsat: number;
  feeMsat: number;
  preimage: string | null;
  reason: string | null;
  createdAt: number;
  settledAt: number | null;
}

export type PayResult =
  | { status: "succeeded"; preimage: string; feeMsat: number }
  | { status: "failed"; reason: string }
  | { status: "pending" };

const hex32 = () => randomBytes(32).toString("hex");
const now = () => Math.floor(Date.now() / 1000);

export class TestNetwork {
  readonly nodes = new Map<string, Node>();
  readonly invoices = new Map<string, TestInvoice>();
  readonly payments = new Map<string, TestPayment>();
  /** Every payment attempt that reached a node, in order: tests count these to prove "paid once". */
  readonly attempts: { nodeId: string; paymentHash: string }[] = [];
  /** Called when an invoice of a node is paid (notifications). */
  onPaid: ((inv: TestInvoice) => void) | null = null;
  /** Called on every payment attempt, so tests can wait for one without polling. */
  private readonly attemptListeners = new Set<(a: { nodeId: string; paymentHash: string }) => void>();
  /** Called when a pending payment ends (resolvePending), so held answers can be released. */
  onResolved: ((p: TestPayment) => void) | null = null;

  /** Resolves once a payment attempt of this hash has reached a node (at once if one already has). */
  waitForAttempt(paymentHash: string, nodeId?: string): Promise<void> {
    const matches = (a: { nodeId: string; paymentHash: string }) =>
      a.paymentHash === paymentHash && (nodeId === undefined || a.nodeId === nodeId);
    if (this.attempts.some(matches)) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (a: { nodeId: string; paymentHash: string }) => {
        if (!matches(a)) return;
        this.attemptListeners.delete(listener);
        resolve();
      };
      this.attemptListeners.add(listener);
    });
  }

  node(id: string, startMsat = 0): Node {
    let n = this.nodes.get(id);
    if (!n) {
      const key = hexToBytes(hex32());
      n = { id, key, pubkey: nodePublicKey(key), balanceMsat: startMsat, feeMsat: 0, mode: "normal" };
      this.nodes.set(id, n);
    }
    return n;
  }

  makeInvoice(
    nodeId: string,
    req: {
      amountMsat: number | null;
      description?: string;
      descriptionHash?: string;
      expirySeconds?: number;
      /** Unix seconds; defaults to now (a later one makes an invoice for a test clock moved ahead). */
      timestamp?: number;
    },
  ): TestInvoice {
    const n = this.node(nodeId);
    const preimage = hex32();
    const paymentHash = paymentHashOf(preimage);
    const createdAt = req.timestamp ?? now();
    const expirySeconds = req.expirySeconds ?? 3600;
    const invoice = encodeInvoice({
      network: "regtest",
      ...(req.amountMsat === null ? {} : { amountMsat: req.amountMsat }),
      paymentHash,
      paymentSecret: hex32(),
      ...(req.descriptionHash !== undefined
        ? { descriptionHash: req.descriptionHash }
        : { description: req.description ?? "" }),
      expirySeconds,
      timestamp: createdAt,
      privateKey: n.key,
    });
    const inv: TestInvoice = {
      paymentHash,
      nodeId,
      preimage,
      invoice,
      amountMsat: req.amountMsat,
      description: req.description ?? null,
      status: "open",
      createdAt,
      expiresAt: createdAt + expirySeconds,
      paidAt: null,
      paidMsat: null,
    };
    this.invoices.set(paymentHash, inv);
    return inv;
  }

  payment(nodeId: string, paymentHash: string): TestPayment | undefined {
    return this.payments.get(`${nodeId}:${paymentHash}`);
  }

  /** Pays an invoice from a node, honouring the node's mode. */
  payInvoice(nodeId: string, invoice: string, amountMsat?: number): PayResult {
    const d = decodeInvoice(invoice);
    const amount = d.amountMsat ?? amountMsat;
    if (amount === undefined) return { status: "failed", reason: "amount required" };
    return this.pay(nodeId, d.paymentHash, amount, d.invoice, () => this.route(nodeId, d.paymentHash, amount));
  }

  /** Pays a node by public key with a preimage the payer chose (keysend). */
  keysend(nodeId: string, destination: string, amountMsat: number, preimage: string): PayResult {
    const hash = paymentHashOf(preimage);
    return this.pay(nodeId, hash, amountMsat, null, () => {
      const dest = [...this.nodes.values()].find((n) => n.pubkey === destination);
      if (!dest) return { status: "failed", reason: "no route to destination" };
      const payer = this.node(nodeId);
      const fee = dest.id === payer.id ? 0 : payer.feeMsat;
      if (payer.balanceMsat < amountMsat + fee) return { status: "failed", reason: "insufficient balance" };
      payer.balanceMsat -= amountMsat + fee;
      dest.balanceMsat += amountMsat;
      return { status: "succeeded", preimage, feeMsat: fee };
    });
  }

  private pay(
    nodeId: string,
    hash: string,
    amountMsat: number,
    invoice: string | null,
    route: () => PayResult,
  ): PayResult {
    const n = this.node(nodeId);
    this.attempts.push({ nodeId, paymentHash: hash });
    for (const l of [...this.attemptListeners]) l({ nodeId, paymentHash: hash });
    const prior = this.payment(nodeId, hash);
    if (prior?.status === "succeeded") return { status: "failed", reason: "invoice already paid" };
    if (prior?.status === "pending") return { status: "pending" };
    const p: TestPayment = {
      nodeId,
      paymentHash: hash,
      invoice,
      status: "pending",
      amountMsat,
      feeMsat: 0,
      preimage: null,
      reason: null,
      createdAt: now(),
      settledAt: null,
    };
    this.payments.set(`${nodeId}:${hash}`, p);
    if (n.mode === "fail") return this.finish(p, { status: "failed", reason: "simulated failure" });
    if (n.mode === "pending" || n.mode === "hang") {
      (p as TestPayment & { route?: () => PayResult }).route = route;
      return { status: "pending" };
    }
    const r = route();
    // A lying wallet lies everywhere: in its answer and when the payment is looked up later.
    return this.finish(p, r.status === "succeeded" && n.mode === "bad_preimage" ? { ...r, preimage: hex32() } : r);
  }

  private route(nodeId: string, hash: string, amountMsat: number): PayResult {
    const payer = this.node(nodeId);
    const inv = this.invoices.get(hash);
    if (!inv) return { status: "failed", reason: "no route to destination" };
    if (inv.status === "paid") return { status: "failed", reason: "invoice already paid" };
    if (inv.expiresAt <= now()) return { status: "failed", reason: "invoice expired" };
    if (inv.amountMsat !== null && inv.amountMsat !== amountMsat)
      return { status: "failed", reason: "incorrect amount" };
    const fee = inv.nodeId === nodeId ? 0 : payer.feeMsat;
    if (payer.balanceMsat < amountMsat + fee) return { status: "failed", reason: "insufficient balance" };
    payer.balanceMsat -= amountMsat + fee;
    this.node(inv.nodeId).balanceMsat += amountMsat;
    inv.status = "paid";
    inv.paidAt = now();
    inv.paidMsat = amountMsat;
    this.onPaid?.(inv);
    return { status: "succeeded", preimage: inv.preimage, feeMsat: fee };
  }

  private finish(p: TestPayment, r: PayResult): PayResult {
    p.status = r.status;
    if (r.status === "succeeded") {
      p.preimage = r.preimage;
      p.feeMsat = r.feeMsat;
      p.settledAt = now();
    }
    if (r.status === "failed") p.reason = r.reason;
    return r;
  }

  /** Ends a payment left pending: "succeeded" routes it for real, "failed" fails it. */
  resolvePending(nodeId: string, hash: string, result: "succeeded" | "failed"): PayResult {
    const p = this.payment(nodeId, hash) as (TestPayment & { route?: () => PayResult }) | undefined;
    if (!p || p.status !== "pending") throw new Error(`no pending payment ${hash} on ${nodeId}`);
    const r =
      result === "failed"
        ? this.finish(p, { status: "failed", reason: "simulated failure" })
        : this.finish(p, p.route ? p.route() : { status: "failed", reason: "nothing to route" });
    this.onResolved?.(p);
    return r;
  }
}
