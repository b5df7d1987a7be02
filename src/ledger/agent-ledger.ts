import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import { isErrorCode, SatchelError, type ErrorCode } from "../errors";
import { newId, random32Hex } from "../ids";
import { decodeInvoice, isExpired, type DecodedInvoice } from "../lightning/bolt11";
import { paymentHashOf, preimageMatches } from "../lightning/preimage";
import { msat } from "../money";
import { usdcOutcome } from "../paywall/usdc-chain";
import { capture, type Result } from "../result";
import { journalEntries, type JournalRow } from "../store/journal";
import type { PayInvoiceRequest, PaymentOutcome, WalletBackend } from "../wallet/backend";
import type { StoredWalletRow } from "../wallet/connection";
import {
  deskStub,
  nwcUriOf,
  payInvoiceClaimed,
  supportsKeysend,
  walletFeeReserve,
  walletFor,
  walletFromStored,
  walletRefOf,
} from "../wallet/factory";
import type { DeskClaimRequest } from "../wallet/operator-desk";
import { failureHint } from "../wallet/wallet-errors";
import { checkSpend, hostAllowed, remaining, withConnectionCap, type BudgetPolicy, type SpendState } from "./policy";
import { LEDGER_SCHEMA, LEDGER_UPGRADES, type AgentRow, type EntryRow, type EntryStatus } from "./schema";
import { entryView, policyOf, type AgentSnapshot, type EntryView, type PaymentView } from "./views";

const DAY_MINUTES = 1440;
const minuteOf = (ms: number): number => Math.floor(ms / 60_000);
/** First look at a payment whose outcome is unknown; doubles up to an hour. */
const RECONCILE_FIRST_MS = 30_000;
const RECONCILE_MAX_MS = 3_600_000;
/** A payment the wallet never heard of is released only this long after its invoice expired. */
const UNKNOWN_RELEASE_GRACE_S = 600;
/**
 * How long a payment's journal write waits for the payments after it to share one D1 write. A D1
 * write costs about as much as the rest of a payment's own work; an agent paying fast pays for one
 * write per window instead of one per payment. Journal views flush first (flushJournal).
 */
const JOURNAL_COALESCE_MS = 200;
/** How long a keysend the wallet never saw stays reserved before the reconciler may release it. */
const KEYSEND_WINDOW_S = 600;
/**
 * How long a payment may go the warm NWC path (payOverWarmNwc) on the connection the desk named
 * for this agent's last claim-first payment. The desk checks the connection before it sends, so this
 * bounds only how many payments a wallet switch turns back, unsent, to the claim-first path: those
 * of agents that paid in the minute before it.
 */
const DESK_WALLET_TTL_MS = 60_000;

/** An invoice payment past its checks, on its way to a reservation. */
interface InvoicePayment {
  req: PayRequest;
  inv: DecodedInvoice;
  amountMsat: number;
}

function ownInvoice(): SatchelError {
  return new SatchelError("INVALID_INPUT", "An agent cannot pay its own invoice.", {
    hint: "Give the invoice to whoever pays you; it credits this agent when paid.",
  });
}

/**
 * Until when (unix seconds) a held payment could still go through: its invoice's expiry (keysend
 * request, USDC authorization) plus a grace for clocks. Only after it may "never seen" mean failed.
 */
function payableUntil(e: EntryRow): number {
  return (e.expires_at ?? 0) + UNKNOWN_RELEASE_GRACE_S;
}

function alreadyClaimed(): SatchelError {
  return new SatchelError("ALREADY_PAID", "Another agent of this operator has paid or is paying this invoice.", {
    hint: "An invoice is paid once per wallet; ask the payee for a new invoice.",
  });
}

/** Ledger ids of operators' treasuries (withdrawals) start with this; agent ids never do. */
export const TREASURY_PREFIX = "trs_";

export interface PayRequest {
  invoice: string;
  /** For zero-amount invoices only. */
  amountMsat?: number;
  /** The caller's own cap for this payment, on top of the agent's policy. */
  maxPaymentMsat?: number;
  idempotencyKey?: string;
  sessionId?: string;
  /** A cap for this session on top of the policy's (e.g. the per-connection cap of an OAuth grant). */
  sessionLimitMsat?: number;
  /** Where a paid API call goes; checked against allowed_hosts and kept for analytics. */
  host?: string;
  /** Recorded instead of the invoice's description, e.g. "L402 GET /fortune" for a paid API call. */
  memo?: string;
}

export interface KeysendLedgerRequest {
  /** The payee node's public key, 66 hex characters. */
  destination: string;
  amountMsat: number;
  /** Kept in the entry's description (shortened); the wallet gets it as a TLV record. */
  message?: string;
  tlvRecords?: { type: number; value: string }[];
  maxPaymentMsat?: number;
  idempotencyKey?: string;
  sessionId?: string;
  sessionLimitMsat?: number;
}

/**
 * A payment made outside the wallet (X402 over USDC, signed with the operator's EVM key) that the
 * agent pays for in sats: reserved like a Lightning payment, then settled or released by the caller.
 */
export interface ExternalReserveRequest {
  /** Stands in for a payment hash and is unique per payment: sha256 of the signed authorization's nonce. */
  paymentHash: string;
  amountMsat: number;
  /** Unix seconds after which the payment can no longer happen (the authorization's validBefore). */
  expiresAt: number;
  /** What is paid, kept in the entry (prefixed "external:"), e.g. "x402:eip155:8453:<asset>:<atomic>:<payTo>". */
  reference: string;
  /** The entry's description, e.g. "X402 GET /quote (0.01 USDC)". */
  memo: string;
  maxPaymentMsat?: number;
  idempotencyKey?: string;
  sessionId?: string;
  sessionLimitMsat?: number;
  host?: string;
}

export interface InitRequest {
  agentId: string;
  operatorId: string;
  name: string;
  policy: BudgetPolicy;
}

/**
 * One agent's money: balance, budget policy, reservations, payment history and idempotency keys,
 * in the Durable Object's SQLite storage. It is the only place that decides whether money may
 * move: every check and the reservation that follows happen in one synchronous step, so
 * concurrent payments against one agent are serialised and can never overspend.
 */
export class AgentLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Entries whose wallet call is running in this instance; the reconciler leaves them alone. */
  private readonly inFlight = new Set<string>();
  /** The operator's wallet connection as the desk named it on this instance's last claim-first payment. */
  private deskWallet: { row: StoredWalletRow | null; readAt: number } | null = null;
  /** Calls of this instance that hold the agent's claim on an invoice and have not reserved yet, by hash. */
  private readonly claimsBeforeReserve = new Map<string, number>();
  private journalChain: Promise<void> = Promise.resolve();
  /** Entries sent to D1 by a journal write that has not succeeded: it may have landed all the same. */
  private readonly journalSent = new Set<string>();
  /** The pending coalesced journal write of the payment paths (journalAfterAnswer), if any. */
  private journalTimer: ReturnType<typeof setTimeout> | null = null;
  /** Test hook: shifts this ledger's clock, so rolling windows are tested without sleeping. */
  private clockSkewMs = 0;
  /** When the stored alarm is set for, so scheduling needs no await. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(LEDGER_SCHEMA);
    for (const upgrade of LEDGER_UPGRADES) {
      try {
        this.sql.exec(upgrade);
      } catch {
        // Already applied: SQLite has no ADD COLUMN IF NOT EXISTS.
      }
    }
    this.backfillSpendTotals();
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  // ---- lifecycle and policy ---------------------------------------------------------------------

  /** Creates the agent's ledger (idempotent). */
  async init(req: InitRequest): Promise<Result<AgentSnapshot>> {
    return capture(() => {
      if (!this.agentRow()) {
        const now = this.now();
        const p = req.policy;
        this.sql.exec(
          `INSERT INTO agent (id, operator_id, name, max_per_payment_msat, daily_limit_msat, budget_limit_msat,
             per_session_limit_msat, allowed_hosts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          req.agentId,
          req.operatorId,
          req.name,
          p.maxPerPaymentMsat,
          p.dailyLimitMsat,
          p.budgetLimitMsat,
          p.perSessionLimitMsat,
          p.allowedHosts === null ? null : JSON.stringify(p.allowedHosts),
          now,
          now,
        );
      }
      return this.snapshot();
    });
  }

  /**
   * Balance, limits and headroom; sessionId adds the per-session view, and a connection's cap
   * (sessionLimitMsat) shows the limits as that connection spends under them.
   */
  async getSnapshot(sessionId?: string, sessionLimitMsat?: number): Promise<Result<AgentSnapshot>> {
    return capture(() => this.snapshot(sessionId, sessionLimitMsat));
  }

  /** Changes some limits; fields left undefined keep their value, null removes a limit. */
  async setPolicy(patch: Partial<BudgetPolicy>): Promise<Result<AgentSnapshot>> {
    return capture(() => {
      const current = policyOf(this.requireAgent());
      const p = { ...current, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
      this.sql.exec(
        `UPDATE agent SET max_per_payment_msat = ?, daily_limit_msat = ?, budget_limit_msat = ?,
           per_session_limit_msat = ?, allowed_hosts = ?, updated_at = ?`,
        p.maxPerPaymentMsat,
        p.dailyLimitMsat,
        p.budgetLimitMsat,
        p.perSessionLimitMsat,
        p.allowedHosts === null ? null : JSON.stringify(p.allowedHosts),
        this.now(),
      );
      return this.snapshot();
    });
  }

  /** The kill switch: a disabled agent can make no payment until reactivated. */
  async setStatus(status: AgentRow["status"]): Promise<Result<AgentSnapshot>> {
    return capture(() => {
      this.requireAgent();
      this.sql.exec("UPDATE agent SET status = ?, updated_at = ?", status, this.now());
      return this.snapshot();
    });
  }

  /**
   * Credits the agent: "funding" from the operator's wallet (an allocation: the sats stay in that
   * wallet) or "transfer" from another agent. Idempotent per entryId.
   */
  async credit(req: {
    amountMsat: number;
    kind: "funding" | "transfer";
    note: string | null;
    entryId?: string;
  }): Promise<Result<AgentSnapshot>> {
    const r = await capture(() => {
      const agent = this.requireAgent();
      if (agent.status === "deleted") throw agentGone();
      const id = req.entryId ?? newId("ent");
      if (this.sql.exec("SELECT id FROM entries WHERE id = ?", id).toArray().length === 0) {
        const now = this.now();
        this.sql.exec(
          `INSERT INTO entries (id, direction, kind, status, amount_msat, description, created_at, updated_at, settled_at)
           VALUES (?, 'in', ?, 'succeeded', ?, ?, ?, ?, ?)`,
          id,
          req.kind,
          msat(req.amountMsat),
          req.note,
          now,
          now,
          now,
        );
        this.sql.exec("UPDATE agent SET credited_msat = credited_msat + ?, updated_at = ?", req.amountMsat, now);
      }
      return this.snapshot();
    });
    await this.journal();
    return r;
  }

  /**
   * For an operator's treasury ledger only (withdrawals): sets its balance to the wallet's sats not
   * promised to any agent, so a withdrawal can never spend an agent's balance.
   */
  async syncTreasury(unallocatedMsat: number): Promise<Result<AgentSnapshot>> {
    return capture(() => {
      const a = this.requireAgent();
      if (!a.id.startsWith(TREASURY_PREFIX)) throw new SatchelError("FORBIDDEN", "Not a treasury ledger.");
      this.sql.exec(
        "UPDATE agent SET credited_msat = spent_msat + reserved_msat + ?, updated_at = ?",
        msat(unallocatedMsat),
        this.now(),
      );
      return this.snapshot();
    });
  }

  /** Operator funding: see credit. */
  async fund(amountMsat: number, note: string | null): Promise<Result<AgentSnapshot>> {
    return this.credit({ amountMsat, kind: "funding", note });
  }

  /**
   * Takes sats off the agent's available balance: a "sweep" back to the operator or a "transfer" to
   * another agent; null takes everything available. Never touches sats held by payments in flight.
   * Idempotent per entryId. Returns what was taken.
   */
  async debit(req: {
    amountMsat: number | null;
    kind: "sweep" | "transfer";
    note: string | null;
    entryId?: string;
  }): Promise<Result<{ debitedMsat: number; snapshot: AgentSnapshot }>> {
    const r = await capture(() => {
      const agent = this.requireAgent();
      const id = req.entryId ?? newId("ent");
      const prior = this.sql.exec<EntryRow>("SELECT * FROM entries WHERE id = ?", id).toArray()[0];
      if (prior) return { debitedMsat: prior.amount_msat, snapshot: this.snapshot() };
      const available = Math.max(0, agent.credited_msat - agent.spent_msat - agent.reserved_msat);
      const amount = req.amountMsat ?? available;
      if (amount > available) {
        throw new SatchelError(
          "INSUFFICIENT_BALANCE",
          `The agent has only ${Math.floor(available / 1000)} sats available.`,
          { hint: "Sats held by payments in flight cannot be moved until they settle." },
        );
      }
      if (amount > 0) this.insertDebit(id, req.kind, amount, req.note);
      return { debitedMsat: amount, snapshot: this.snapshot() };
    });
    await this.journal();
    return r;
  }

  private insertDebit(id: string, kind: "sweep" | "transfer", amountMsat: number, note: string | null): void {
    const now = this.now();
    this.sql.exec(
      `INSERT INTO entries (id, direction, kind, status, amount_msat, description, created_at, updated_at, settled_at)
       VALUES (?, 'out', ?, 'succeeded', ?, ?, ?, ?, ?)`,
      id,
      kind,
      amountMsat,
      note,
      now,
      now,
      now,
    );
    this.sql.exec("UPDATE agent SET credited_msat = credited_msat - ?, updated_at = ?", amountMsat, now);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  /** Issues an invoice from the operator's wallet in this agent's name. */
  async createInvoice(req: {
    amountMsat: number;
    description: string;
    expirySeconds: number;
  }): Promise<Result<EntryView>> {
    const r = await capture(async () => {
      const agent = this.requireAgent();
      if (agent.status === "deleted") throw agentGone();
      const wallet = this.wallet(agent);
      const made = await wallet.makeInvoice({
        amountMsat: msat(req.amountMsat),
        description: req.description,
        expirySeconds: req.expirySeconds,
      });
      const walletRef = await walletRefOf(wallet);
      const now = this.now();
      const id = newId("ent");
      this.sql.exec(
        `INSERT INTO entries (id, direction, kind, status, amount_msat, payment_hash, preimage, invoice, description,
           wallet_ref, expires_at, created_at, updated_at) VALUES (?, 'in', 'invoice', 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        id,
        req.amountMsat,
        made.paymentHash,
        made.preimage,
        made.invoice,
        req.description,
        walletRef,
        made.expiresAt,
        now,
        now,
      );
      await deskStub(this.env, agent.operator_id).recordInvoice({
        paymentHash: made.paymentHash,
        agentId: agent.id,
        amountMsat: req.amountMsat,
        createdAt: now,
        expiresAt: made.expiresAt,
      });
      return entryView(this.entry(id));
    });
    await this.journal();
    return r;
  }

  /** The state of an invoice this agent issued; asks the wallet and credits the agent once it is paid. */
  async invoiceStatus(paymentHash: string): Promise<Result<EntryView>> {
    const r = await capture(async () => {
      const agent = this.requireAgent();
      const e = this.incoming(paymentHash);
      if (!e)
        throw new SatchelError("NOT_FOUND", "This agent issued no invoice with that payment hash.", {
          hint: "Use the payment_hash returned by create_invoice.",
        });
      if (e.status !== "open") return entryView(e);
      const wallet = this.wallet(agent);
      // Issued by a wallet that is no longer connected: only it knows whether the invoice was paid
      // (even past its expiry), so the entry stays open until that wallet is connected again.
      if (e.wallet_ref !== null && e.wallet_ref !== (await walletRefOf(wallet))) return entryView(e);
      const state = await wallet.lookupInvoice(paymentHash);
      const fresh = this.entry(e.id);
      if (fresh.status !== "open") return entryView(fresh);
      if (state.status === "paid") {
        this.creditIncoming(fresh, state.amountMsat, state.preimage, null);
      } else if (state.status === "expired" || (fresh.expires_at ?? 0) <= this.nowSeconds()) {
        this.update(fresh.id, { status: "expired" });
      }
      return entryView(this.entry(e.id));
    });
    await this.journal();
    return r;
  }

  /**
   * Settles, inside Satchel, a payment from another agent of the same operator to an invoice of
   * this agent. Idempotent per payer, so a payer that lost the answer can ask again.
   */
  async receiveInternal(req: {
    paymentHash: string;
    amountMsat: number;
    payerAgentId: string;
  }): Promise<Result<{ preimage: string | null }>> {
    const r = await capture(() => {
      const agent = this.requireAgent();
      if (agent.status === "deleted") throw agentGone();
      const e = this.incoming(req.paymentHash);
      if (!e) throw new SatchelError("NOT_FOUND", "No such invoice.");
      if (e.status === "succeeded") {
        if (e.counterparty === req.payerAgentId) return { preimage: e.preimage };
        throw new SatchelError("ALREADY_PAID", "This invoice has already been paid.");
      }
      if (e.status === "expired" || (e.expires_at ?? 0) <= this.nowSeconds()) {
        throw new SatchelError("INVOICE_EXPIRED", "The invoice has expired.");
      }
      if (e.amount_msat !== req.amountMsat)
        throw new SatchelError("AMOUNT_MISMATCH", "Amount differs from the invoice.");
      this.creditIncoming(e, req.amountMsat, e.preimage, req.payerAgentId);
      return { preimage: e.preimage };
    });
    await this.journal();
    return r;
  }

  // ---- paying -------------------------------------------------------------------------------------

  /**
   * Pays a BOLT 11 invoice following the money path: decode and check, reserve amount + fee limit,
   * pay, verify the preimage, settle or release; an unknown outcome keeps the reservation for the
   * reconciler. Never pays the same invoice twice.
   */
  async pay(req: PayRequest): Promise<Result<PaymentView>> {
    const r = await capture(async () => {
      const agent = this.requireAgent();
      this.assertActive(agent);
      const replay = this.replay(req);
      if (replay) return replay;

      const inv = decodeInvoice(req.invoice);
      const config = getConfig(this.env);
      if (inv.network !== config.network) {
        throw new SatchelError(
          "WRONG_NETWORK",
          `This is a ${inv.network} invoice; the wallet is on ${config.network}.`,
          {
            hint: "Ask the payee for an invoice on the wallet's network.",
          },
        );
      }
      let amountMsat: number;
      if (inv.amountMsat === null) {
        if (req.amountMsat === undefined) {
          throw new SatchelError("AMOUNT_REQUIRED", "The invoice has no amount.", {
            hint: "Pass amount_sats to choose how much to pay.",
          });
        }
        amountMsat = req.amountMsat;
      } else {
        if (req.amountMsat !== undefined && req.amountMsat !== inv.amountMsat) {
          throw new SatchelError("AMOUNT_MISMATCH", "amount_sats differs from the invoice's amount.", {
            hint: "Omit amount_sats for invoices that carry an amount.",
          });
        }
        amountMsat = inv.amountMsat;
      }
      if (amountMsat <= 0) throw new SatchelError("INVALID_INPUT", "Amount must be positive.");
      if (isExpired(inv, this.nowSeconds())) {
        throw new SatchelError("INVOICE_EXPIRED", "The invoice has expired.", {
          hint: "Ask the payee for a new invoice.",
        });
      }
      if (req.maxPaymentMsat !== undefined && amountMsat > req.maxPaymentMsat) {
        throw new SatchelError(
          "AMOUNT_TOO_LARGE",
          `The invoice asks ${Math.ceil(amountMsat / 1000)} sats, above max_payment_sats ${Math.floor(req.maxPaymentMsat / 1000)}.`,
          { hint: "Raise max_payment_sats if the price is acceptable.", details: { limit: "max_payment_sats" } },
        );
      }
      this.assertNotPaid(inv.paymentHash);
      if (this.incoming(inv.paymentHash)) throw ownInvoice();

      // Refuse what the limits already refuse before claiming the invoice for this agent: a claim
      // left by a refused payment would stop the operator's other agents from paying it. (The
      // reservation checks again, with the fee limit, after the awaits below.)
      this.assertSpendAllowed(agent, req, amountMsat, 0);
      const payment = { req, inv, amountMsat };
      return (await this.payOverWarmNwc(agent, payment)) ?? (await this.payClaimFirst(agent, payment));
    });
    this.journalAfterAnswer();
    return r;
  }

  /**
   * The claim-first path of pay, for every wallet: the operator's desk routes and claims the invoice
   * and returns the wallet connection in one call (no D1 round trip on the way to the wallet), then
   * the payment is reserved and sent. Where the money goes is decided before the reservation: the
   * reservation step must not await.
   */
  private async payClaimFirst(agent: AgentRow, p: InvoicePayment): Promise<PaymentView> {
    const { req, inv, amountMsat } = p;
    const {
      owner,
      claimant,
      wallet: stored,
    } = await deskStub(this.env, agent.operator_id).claim(this.claimRequest(agent, inv));
    this.deskWallet = { row: stored, readAt: Date.now() };
    const wallet = walletFromStored(this.env, agent.operator_id, stored);
    if (owner === agent.id) {
      await this.releaseClaim(inv.paymentHash);
      throw ownInvoice();
    }
    // Issued by another agent of this operator: settled inside Satchel, not over the wallet.
    const payee = owner;
    if (claimant !== agent.id) throw alreadyClaimed();
    const hash = inv.paymentHash;
    this.claimsBeforeReserve.set(hash, (this.claimsBeforeReserve.get(hash) ?? 0) + 1);
    let entry: EntryRow;
    try {
      const feeLimitMsat = payee ? 0 : await walletFeeReserve(wallet, msat(amountMsat));
      const walletRef = payee ? null : await walletRefOf(wallet);
      // A concurrent call with the same key may have finished while we awaited the lookups above.
      const late = this.replay(req);
      if (late) return late;
      entry = this.reserve(this.reservation(p, feeLimitMsat, payee, walletRef));
    } catch (e) {
      // Refused before anything was reserved or paid (the wallet connection cannot be opened, or a
      // limit refuses amount + fee limit): give the invoice back to the operator's other agents.
      // Not when a payment of it by this agent exists or is on its way: that one keeps the claim.
      const otherPaymentHoldsIt =
        (e instanceof SatchelError && (e.code === "ALREADY_PAID" || e.code === "PAYMENT_PENDING")) ||
        this.claimsBeforeReserve.get(hash) !== 1;
      if (!otherPaymentHoldsIt) await this.releaseClaim(hash);
      throw e;
    } finally {
      const n = (this.claimsBeforeReserve.get(hash) ?? 1) - 1;
      if (n > 0) this.claimsBeforeReserve.set(hash, n);
      else this.claimsBeforeReserve.delete(hash);
    }
    const outcome = await this.send(entry, () =>
      payee ? this.payInternal(payee, entry) : wallet.payInvoice(this.walletRequest(p, entry)),
    );
    return this.settlePayment(entry, outcome, req);
  }

  /**
   * The warm path of pay over NWC, one call to the operator's desk fewer: reserve first (under the
   * connection this ledger read from the desk moments ago), then the desk claims the invoice and
   * sends it in the same call (OperatorDesk.claimAndCall). When the desk refuses, nothing was sent:
   * an invoice of another agent is paid inside Satchel on the same reservation; otherwise the
   * reservation is undone (cancelUnsent) and the payment either fails as on the claim-first path or,
   * when the connection changed, takes that path.
   * Returns null to take the claim-first path.
   */
  private async payOverWarmNwc(agent: AgentRow, p: InvoicePayment): Promise<PaymentView | null> {
    const { req, inv, amountMsat } = p;
    const seen = this.deskWallet;
    if (seen === null || seen.row?.wallet_type !== "nwc" || Date.now() - seen.readAt > DESK_WALLET_TTL_MS) return null;
    const row = seen.row;
    let entry: EntryRow;
    let uri: string | null;
    try {
      const wallet = walletFromStored(this.env, agent.operator_id, row);
      uri = await nwcUriOf(wallet);
      if (uri === null) return null;
      const feeLimitMsat = await walletFeeReserve(wallet, msat(amountMsat));
      const walletRef = await walletRefOf(wallet);
      const late = this.replay(req);
      if (late) return late;
      entry = this.reserve(this.reservation(p, feeLimitMsat, null, walletRef));
    } catch {
      // Refused before anything was reserved: the claim-first path decides again, exactly (with no
      // fee limit when the invoice is another agent's) and answers with its own error.
      return null;
    }
    const claim = { ...this.claimRequest(agent, inv), wallet: row };
    const sent = await this.send(entry, () => payInvoiceClaimed(this.env, uri, this.walletRequest(p, entry), claim));
    if ("status" in sent) return this.settlePayment(entry, sent, req);
    if ("outcome" in sent) return this.settlePayment(entry, sent.outcome, req);
    const why = sent.refusal;
    switch (why.refused) {
      case "issued_here": {
        // The claim is this agent's: the payment moves inside Satchel, on the same reservation (its
        // fee limit is released when it settles with no fee).
        this.update(entry.id, { kind: "internal", counterparty: why.owner, wallet_ref: null });
        const internal = this.entry(entry.id);
        return this.settlePayment(
          internal,
          await this.send(internal, () => this.payInternal(why.owner, internal)),
          req,
        );
      }
      case "claimed":
        this.cancelUnsent(entry, "ALREADY_PAID", "another agent of this operator holds the invoice");
        throw alreadyClaimed();
      case "own_invoice":
        this.cancelUnsent(entry, "INVALID_INPUT", "the agent issued this invoice");
        throw ownInvoice();
      case "wallet_changed":
        // The connection this ledger saw is gone: pay through the current one, claim first.
        this.deskWallet = { row: why.wallet, readAt: Date.now() };
        this.cancelUnsent(entry, "WALLET_UNAVAILABLE", "the operator's wallet connection changed before it was sent");
        return null;
    }
  }

  /** The desk's claim request for this agent and invoice. */
  private claimRequest(agent: AgentRow, inv: DecodedInvoice): DeskClaimRequest {
    return {
      operatorId: agent.operator_id,
      paymentHash: inv.paymentHash,
      agentId: agent.id,
      at: this.now(),
      expiresAt: inv.expiresAt,
    };
  }

  private reservation(p: InvoicePayment, feeLimitMsat: number, payee: string | null, walletRef: string | null) {
    return {
      req: p.req,
      paymentHash: p.inv.paymentHash,
      invoice: p.inv.invoice,
      description: p.req.memo ?? p.inv.description,
      expiresAt: p.inv.expiresAt,
      amountMsat: p.amountMsat,
      feeLimitMsat,
      payee,
      walletRef,
    };
  }

  private walletRequest(p: InvoicePayment, entry: EntryRow): PayInvoiceRequest {
    return {
      invoice: p.inv.invoice,
      paymentHash: p.inv.paymentHash,
      amountMsat: msat(p.amountMsat),
      zeroAmount: p.inv.amountMsat === null,
      feeLimitMsat: msat(entry.fee_limit_msat),
    };
  }

  /**
   * Runs a reserved payment's one send, with the entry marked in flight (the reconciler leaves it
   * alone). A send that throws may still have paid: its outcome is unknown, never "failed".
   */
  private async send<T>(entry: EntryRow, run: () => Promise<T>): Promise<T | { status: "pending" }> {
    this.inFlight.add(entry.id);
    try {
      return await run();
    } catch (e) {
      console.warn("payment outcome unknown", { entry: entry.id, error: errorName(e) });
      return { status: "pending" };
    } finally {
      this.inFlight.delete(entry.id);
    }
  }

  /** Applies a sent payment's outcome; a payment that definitely failed gives the invoice's claim back. */
  private async settlePayment(entry: EntryRow, outcome: PaymentOutcome, req: PayRequest): Promise<PaymentView> {
    const settled = this.applyOutcome(entry.id, outcome);
    if (settled.status === "failed") await this.releaseClaim(entry.payment_hash!);
    return this.paymentResult(settled, false, req);
  }

  /**
   * Undoes a reservation the desk refused to send, as if the attempt never was (as on the claim-first
   * path, where the desk refuses before anything is reserved): released, then removed, so a retry
   * with its idempotency key is decided afresh. An entry the D1 journal may already hold stays, as
   * failed with why and with its key freed, so the journal never keeps a reservation that is gone.
   */
  private cancelUnsent(entry: EntryRow, code: ErrorCode, reason: string): void {
    const e = this.applyOutcome(entry.id, { status: "failed", code, reason: `not sent: ${reason}` });
    if (e.journaled_version === 0 && !this.journalSent.has(e.id)) {
      this.sql.exec("DELETE FROM entries WHERE id = ?", e.id);
    } else {
      this.update(e.id, { idempotency_key: null });
    }
  }

  /**
   * Sends a keysend payment (no invoice). Satchel picks the preimage, so the payment hash is known
   * before anything moves, and the payment then follows pay's path with the same reserve and
   * applyOutcome: reserve amount + fee limit, pay, verify, settle, release, or keep it pending for
   * the reconciler (which looks the payment up by that hash). Idempotent per idempotency key.
   */
  async keysend(req: KeysendLedgerRequest): Promise<Result<PaymentView>> {
    const r = await capture(async () => {
      const agent = this.requireAgent();
      this.assertActive(agent);
      const target = `keysend:${req.destination}:${req.amountMsat}`;
      const replay = this.replayKeysend(req, target);
      if (replay) return replay;
      if (req.maxPaymentMsat !== undefined && req.amountMsat > req.maxPaymentMsat) {
        throw new SatchelError("AMOUNT_TOO_LARGE", "The amount is above max_payment_sats.", {
          details: { limit: "max_payment_sats" },
        });
      }
      const wallet = this.wallet(agent);
      if (!(await supportsKeysend(wallet))) {
        throw new SatchelError("UNSUPPORTED", "The operator's wallet cannot send keysend payments.", {
          hint: "Ask the payee for an invoice and use pay_invoice instead.",
        });
      }
      const feeLimitMsat = await walletFeeReserve(wallet, msat(req.amountMsat));
      const walletRef = await walletRefOf(wallet);
      const late = this.replayKeysend(req, target);
      if (late) return late;
      const preimage = random32Hex();
      const paymentHash = paymentHashOf(preimage);
      const entry = this.reserve({
        req,
        paymentHash,
        invoice: target,
        description: req.message ? `keysend: ${req.message.slice(0, 200)}` : "keysend",
        // No invoice expires, but the request carries a NIP-40 expiration: after this window a wallet
        // that never saw the payment cannot make it any more, so the reconciler may release it.
        expiresAt: this.nowSeconds() + KEYSEND_WINDOW_S,
        amountMsat: req.amountMsat,
        feeLimitMsat,
        payee: null,
        walletRef,
      });
      const outcome = await this.send(entry, async (): Promise<PaymentOutcome> =>
        wallet.payKeysend
          ? wallet.payKeysend({
              destination: req.destination,
              amountMsat: msat(req.amountMsat),
              preimage,
              paymentHash,
              tlvRecords: req.tlvRecords ?? [],
              feeLimitMsat: msat(feeLimitMsat),
            })
          : { status: "failed", reason: "keysend unsupported", code: "UNSUPPORTED" },
      );
      return this.paymentResult(this.applyOutcome(entry.id, outcome), false, req);
    });
    this.journalAfterAnswer();
    return r;
  }

  /**
   * Reserves sats for a payment made outside the wallet (X402 over USDC): every check and the
   * reservation of pay, with no fee and no wallet call. The caller pays, then calls settleExternal.
   * Left unsettled (the caller crashed, or the outcome stayed unknown), the reconciler treats it like
   * a payment the wallet never saw: it stays held until expiresAt + 10 minutes, then is released.
   */
  async reserveExternal(req: ExternalReserveRequest): Promise<Result<{ paymentId: string; spendableMsat: number }>> {
    const r = await capture(() => {
      this.assertActive(this.requireAgent());
      if (!Number.isSafeInteger(req.amountMsat) || req.amountMsat <= 0) {
        throw new SatchelError("INVALID_INPUT", "Amount must be positive.");
      }
      if (req.expiresAt <= this.nowSeconds()) {
        throw new SatchelError("INVOICE_EXPIRED", "The payment's authorization has already expired.");
      }
      if (req.maxPaymentMsat !== undefined && req.amountMsat > req.maxPaymentMsat) {
        throw new SatchelError(
          "AMOUNT_TOO_LARGE",
          `The payment costs ${Math.ceil(req.amountMsat / 1000)} sats, above max_payment_sats ${Math.floor(req.maxPaymentMsat / 1000)}.`,
          { hint: "Raise max_payment_sats if the price is acceptable.", details: { limit: "max_payment_sats" } },
        );
      }
      const entry = this.reserve({
        req,
        paymentHash: req.paymentHash,
        invoice: `external:${req.reference}`.slice(0, 1024),
        description: req.memo.slice(0, 200),
        expiresAt: req.expiresAt,
        amountMsat: req.amountMsat,
        feeLimitMsat: 0,
        payee: null,
        walletRef: null,
      });
      return {
        paymentId: entry.id,
        spendableMsat: this.snapshot(req.sessionId, req.sessionLimitMsat).remaining.spendableMsat,
      };
    });
    this.journalAfterAnswer();
    return r;
  }

  /**
   * Settles (the payment went through: the reserved amount is spent) or releases (it did not) what
   * reserveExternal reserved. Idempotent: an entry already settled or released is returned as it is.
   */
  async settleExternal(req: {
    paymentId: string;
    outcome: "succeeded" | "failed";
    reason?: string;
    sessionId?: string;
    sessionLimitMsat?: number;
  }): Promise<Result<PaymentView>> {
    const r = await capture(() => {
      const e = this.sql.exec<EntryRow>("SELECT * FROM entries WHERE id = ?", req.paymentId).toArray()[0];
      // Only external entries: a Lightning payment is never marked paid without its wallet's word.
      if (!e || e.direction !== "out" || !e.invoice?.startsWith("external:")) {
        throw new SatchelError("NOT_FOUND", "No external payment with that id.");
      }
      const after = this.applyOutcome(
        e.id,
        req.outcome === "succeeded"
          ? { status: "succeeded", preimage: null, feeMsat: msat(0) }
          : { status: "failed", reason: (req.reason ?? "refused before settlement").slice(0, 200) },
      );
      return {
        entry: entryView(after),
        replayed: false,
        spendableMsat: this.snapshot(req.sessionId, req.sessionLimitMsat).remaining.spendableMsat,
      };
    });
    this.journalAfterAnswer();
    return r;
  }

  private replayKeysend(req: KeysendLedgerRequest, target: string): PaymentView | null {
    if (!req.idempotencyKey) return null;
    const prior = this.byKey(req.idempotencyKey);
    if (!prior) return null;
    if (prior.invoice !== target) {
      throw new SatchelError("INVALID_INPUT", "This idempotency_key was already used for a different payment.", {
        hint: "Use a new idempotency_key for each distinct payment.",
      });
    }
    return this.paymentResult(prior, true, req);
  }

  /** The synchronous heart of the money path: re-check everything and write the reservation. */
  private reserve(p: {
    req: Partial<PayRequest>;
    paymentHash: string;
    invoice: string;
    description: string | null;
    expiresAt: number;
    amountMsat: number;
    feeLimitMsat: number;
    payee: string | null;
    /** The wallet connection that will send it (walletRef); null when no wallet does. */
    walletRef: string | null;
  }): EntryRow {
    const agent = this.requireAgent();
    this.assertActive(agent);
    if (p.req.idempotencyKey && this.byKey(p.req.idempotencyKey)) {
      throw new SatchelError("PAYMENT_PENDING", "A payment with this idempotency key is already being made.", {
        hint: "Wait, then call again with the same idempotency_key to read its outcome.",
      });
    }
    this.assertNotPaid(p.paymentHash);
    this.assertSpendAllowed(agent, p.req, p.amountMsat, p.feeLimitMsat);
    const now = this.now();
    const id = newId("ent");
    this.sql.exec(
      `INSERT INTO entries (id, direction, kind, status, amount_msat, fee_limit_msat, payment_hash, invoice, description,
         idempotency_key, session_id, host, counterparty, wallet_ref, expires_at, created_at, updated_at)
       VALUES (?, 'out', ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      p.payee ? "internal" : "payment",
      p.amountMsat,
      p.feeLimitMsat,
      p.paymentHash,
      p.invoice,
      p.description,
      p.req.idempotencyKey ?? null,
      p.req.sessionId ?? null,
      p.req.host ?? null,
      p.payee,
      p.walletRef,
      p.expiresAt,
      now,
      now,
    );
    this.sql.exec(
      "UPDATE agent SET reserved_msat = reserved_msat + ?, updated_at = ?",
      p.amountMsat + p.feeLimitMsat,
      now,
    );
    this.addSpend({ created_at: now, session_id: p.req.sessionId ?? null }, p.amountMsat + p.feeLimitMsat);
    this.sql.exec("DELETE FROM spend_minutes WHERE minute < ?", minuteOf(now) - DAY_MINUTES - 1);
    // Scheduled in the same atomic write as the reservation: a crash right after still gets reconciled.
    this.scheduleAlarm(RECONCILE_FIRST_MS);
    return this.entry(id);
  }

  /** Every limit and the allowed hosts, for a payment of amount plus fee limit. Synchronous. */
  private assertSpendAllowed(
    agent: AgentRow,
    req: Partial<PayRequest>,
    amountMsat: number,
    feeLimitMsat: number,
  ): void {
    const policy = withConnectionCap(policyOf(agent), req.sessionLimitMsat);
    if (req.host !== undefined && !hostAllowed(policy, req.host)) {
      throw new SatchelError("HOST_NOT_ALLOWED", `This agent may not pay ${req.host}.`, {
        hint: "Ask the operator to add the host to allowed_hosts.",
      });
    }
    const denied = checkSpend(policy, this.spendState(req.sessionId), amountMsat, feeLimitMsat);
    if (denied) throw denied;
  }

  private async payInternal(payeeAgentId: string, e: EntryRow): Promise<PaymentOutcome> {
    const payee = this.env.LEDGER.get(this.env.LEDGER.idFromName(payeeAgentId));
    const r = (await payee.receiveInternal({
      paymentHash: e.payment_hash!,
      amountMsat: e.amount_msat,
      payerAgentId: this.requireAgent().id,
    })) as Result<{ preimage: string | null }>;
    if (r.ok) return { status: "succeeded", preimage: r.value.preimage, feeMsat: msat(0) };
    return { status: "failed", reason: `${r.error.code}: ${r.error.message}` };
  }

  /** Moves a reserved or pending entry to its outcome and updates the balances to match. */
  private applyOutcome(id: string, outcome: PaymentOutcome): EntryRow {
    const e = this.entry(id);
    if (e.status !== "reserved" && e.status !== "pending") return e;
    const held = e.amount_msat + e.fee_limit_msat;
    const now = this.now();
    if (outcome.status === "succeeded") {
      if (outcome.preimage !== null && !preimageMatches(outcome.preimage, e.payment_hash!)) {
        // The wallet claims success but cannot prove it: keep the sats held, never pay again.
        this.update(id, {
          status: "pending",
          error_code: "PREIMAGE_MISMATCH",
          error_message: "The wallet returned a preimage that does not match the payment hash.",
        });
        return this.entry(id);
      }
      const spent = e.amount_msat + outcome.feeMsat;
      this.addSpend(e, spent - held);
      this.update(id, {
        status: "succeeded",
        fee_msat: outcome.feeMsat,
        preimage: outcome.preimage,
        settled_at: now,
        error_code: null,
        error_message: null,
      });
      this.sql.exec(
        "UPDATE agent SET reserved_msat = reserved_msat - ?, spent_msat = spent_msat + ?, updated_at = ?",
        held,
        spent,
        now,
      );
    } else if (outcome.status === "failed") {
      this.update(id, {
        status: "failed",
        error_code: outcome.code ?? "PAYMENT_FAILED",
        error_message: outcome.reason.slice(0, 200),
        settled_at: now,
      });
      this.sql.exec("UPDATE agent SET reserved_msat = reserved_msat - ?, updated_at = ?", held, now);
      this.addSpend(e, -held);
      // A deleted agent keeps nothing: what a failed payment releases returns to the operator.
      if (this.requireAgent().status === "deleted")
        this.insertDebit(newId("ent"), "sweep", held, "released after deletion");
    } else {
      this.update(id, { status: "pending" });
    }
    return this.entry(id);
  }

  /** Gives this agent's claim on an invoice back after a payment that definitely did not happen. */
  private async releaseClaim(paymentHash: string): Promise<void> {
    const agent = this.requireAgent();
    try {
      await deskStub(this.env, agent.operator_id).releaseClaim({ paymentHash, agentId: agent.id });
    } catch (err) {
      // A stale claim only stops other agents from retrying this invoice; it never moves money.
      console.warn("could not release payment claim", { paymentHash, error: errorName(err) });
    }
  }

  /** A payment's view, with what its session may still spend (under the connection's cap, if any). */
  private paymentResult(
    e: EntryRow,
    replayed: boolean,
    session: { sessionId?: string; sessionLimitMsat?: number },
  ): PaymentView {
    if (e.status === "failed") {
      // A wallet refusal keeps its own code (RATE_LIMITED, INSUFFICIENT_BALANCE, …); nothing was spent either way.
      const code = isErrorCode(e.error_code) ? e.error_code : "PAYMENT_FAILED";
      throw new SatchelError(code, `The payment failed: ${e.error_message ?? "unknown reason"}.`, {
        hint:
          (code === "PAYMENT_FAILED" ? undefined : failureHint(code)) ??
          "Nothing was spent. Check the invoice with decode_invoice or ask the payee for a new one.",
        details: { payment_id: e.id, payment_hash: e.payment_hash },
      });
    }
    if (e.status !== "succeeded") {
      const mismatch = e.error_code === "PREIMAGE_MISMATCH";
      throw new SatchelError(
        mismatch ? "PREIMAGE_MISMATCH" : "PAYMENT_PENDING",
        mismatch
          ? "The wallet reported success with a preimage that does not match the payment hash."
          : "The payment is in flight; its outcome is not known yet.",
        {
          hint: "Do not pay this invoice again. The sats stay reserved until the outcome is known; check get_transactions later.",
          details: { payment_id: e.id, payment_hash: e.payment_hash },
        },
      );
    }
    return {
      entry: entryView(e),
      replayed,
      spendableMsat: this.snapshot(session.sessionId, session.sessionLimitMsat).remaining.spendableMsat,
    };
  }

  private replay(req: PayRequest): PaymentView | null {
    if (!req.idempotencyKey) return null;
    const prior = this.byKey(req.idempotencyKey);
    if (!prior) return null;
    if (
      prior.invoice !==
      req.invoice
        .trim()
        .toLowerCase()
        .replace(/^lightning:/, "")
    ) {
      throw new SatchelError("INVALID_INPUT", "This idempotency_key was already used for a different invoice.", {
        hint: "Use a new idempotency_key for each distinct payment.",
      });
    }
    return this.paymentResult(prior, true, req);
  }

  private assertNotPaid(paymentHash: string): void {
    const prior = this.sql
      .exec<EntryRow>(
        "SELECT * FROM entries WHERE payment_hash = ? AND direction = 'out' AND status != 'failed' LIMIT 1",
        paymentHash,
      )
      .toArray()[0];
    if (!prior) return;
    const details = {
      payment_id: prior.id,
      payment_hash: prior.payment_hash,
      status: prior.status,
      preimage: prior.preimage,
    };
    if (prior.status === "succeeded") {
      throw new SatchelError("ALREADY_PAID", "This agent has already paid this invoice.", {
        hint: "Nothing was paid again. The first payment's preimage is in details.",
        details,
      });
    }
    throw new SatchelError("PAYMENT_PENDING", "A payment of this invoice is already in flight.", {
      hint: "Do not pay again; check get_transactions for its outcome.",
      details,
    });
  }

  // ---- L402 token cache ---------------------------------------------------------------------------

  /** The cached L402 credential for an origin (scheme://host:port), if any. */
  async getToken(origin: string): Promise<{ token: string; paymentHash: string; amountMsat: number } | null> {
    const row = this.sql
      .exec<{ token: string; payment_hash: string; amount_msat: number }>(
        "SELECT token, payment_hash, amount_msat FROM l402_tokens WHERE origin = ?",
        origin,
      )
      .toArray()[0];
    return row ? { token: row.token, paymentHash: row.payment_hash, amountMsat: row.amount_msat } : null;
  }

  /**
   * What pay_l402_api reads before its first request, in one call: the snapshot (policy, headroom)
   * (under the connection's cap, if any) and the cached L402 credential of the origin (none when
   * origin is null).
   */
  async getSnapshotAndToken(
    sessionId: string | undefined,
    origin: string | null,
    sessionLimitMsat?: number,
  ): Promise<
    Result<{ snapshot: AgentSnapshot; token: { token: string; paymentHash: string; amountMsat: number } | null }>
  > {
    return capture(async () => ({
      snapshot: this.snapshot(sessionId, sessionLimitMsat),
      token: origin === null ? null : await this.getToken(origin),
    }));
  }

  /** Remembers a paid L402 credential for an origin, replacing any older one. */
  async putToken(origin: string, t: { token: string; paymentHash: string; amountMsat: number }): Promise<void> {
    this.sql.exec(
      "INSERT OR REPLACE INTO l402_tokens (origin, token, payment_hash, amount_msat, created_at) VALUES (?, ?, ?, ?, ?)",
      origin,
      t.token,
      t.paymentHash,
      t.amountMsat,
      this.now(),
    );
  }

  /** Forgets an origin's credential once the server refuses it. */
  async dropToken(origin: string, token: string): Promise<void> {
    this.sql.exec("DELETE FROM l402_tokens WHERE origin = ? AND token = ?", origin, token);
  }

  // ---- reading ------------------------------------------------------------------------------------

  /** Ledger entries, newest first. */
  async history(q: {
    limit: number;
    offset: number;
    direction?: "in" | "out";
    status?: EntryStatus;
  }): Promise<Result<EntryView[]>> {
    return capture(() => {
      this.requireAgent();
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.direction) {
        where.push("direction = ?");
        args.push(q.direction);
      }
      if (q.status) {
        where.push("status = ?");
        args.push(q.status);
      }
      const rows = this.sql
        .exec<EntryRow>(
          `SELECT * FROM entries ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
           ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
          ...args,
          q.limit,
          q.offset,
        )
        .toArray();
      return rows.map(entryView);
    });
  }

  // ---- reconciliation -----------------------------------------------------------------------------

  /**
   * The operator's word on a payment that stays held because nothing can settle it: the wallet
   * connection that sent it is gone for good (the reconciler asks no other), or the chain of a USDC
   * payment cannot be read. "succeeded" spends the held sats (with the preimage, checked against the
   * payment hash, when the operator has it); "failed" releases them, and only once the invoice can no
   * longer be paid (its expiry plus the reconciler's grace), so that a wallet still holding it cannot
   * pay it after the sats went back. Final, like every outcome.
   */
  async resolveHeld(req: {
    paymentId: string;
    outcome: "succeeded" | "failed";
    preimage?: string;
  }): Promise<Result<EntryView>> {
    const r = await capture(async () => {
      const e = this.sql
        .exec<EntryRow>("SELECT * FROM entries WHERE id = ? AND direction = 'out'", req.paymentId)
        .toArray()[0];
      if (!e) throw new SatchelError("NOT_FOUND", "This agent has no such payment.");
      if (e.status !== "reserved" && e.status !== "pending") {
        throw new SatchelError("INVALID_INPUT", `This payment is ${e.status}, not held.`, {
          hint: "Only a reserved or pending payment can be resolved.",
        });
      }
      if (this.inFlight.has(e.id)) {
        throw new SatchelError("PAYMENT_PENDING", "This payment's wallet call is still running.", {
          hint: "Wait for its answer; it settles on its own.",
        });
      }
      let outcome: PaymentOutcome;
      if (req.outcome === "failed") {
        const until = payableUntil(e);
        if (until > this.nowSeconds()) {
          throw new SatchelError("INVALID_INPUT", "This payment could still be made: it is not released yet.", {
            hint: `Mark it failed after ${new Date(until * 1000).toISOString()}, or connect the wallet that sent it again.`,
            details: { releasable_at: new Date(until * 1000).toISOString() },
          });
        }
        outcome = { status: "failed", code: "PAYMENT_FAILED", reason: "resolved by the operator: failed" };
      } else {
        if (req.preimage !== undefined && !preimageMatches(req.preimage, e.payment_hash ?? "")) {
          throw new SatchelError("PREIMAGE_MISMATCH", "This preimage does not match the payment hash.", {
            hint: "Pass the preimage the sending wallet shows for this payment, or none.",
          });
        }
        outcome = { status: "succeeded", preimage: req.preimage?.toLowerCase() ?? null, feeMsat: msat(0) };
      }
      const after = this.applyOutcome(e.id, outcome);
      if (after.status === "failed" && after.payment_hash !== null) await this.releaseClaim(after.payment_hash);
      return entryView(this.entry(e.id));
    });
    await this.journal();
    return r;
  }

  /** Resolves payments whose outcome was unknown, and retries journal writes that failed. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.reconcile();
    await this.journal();
    const open = this.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM entries WHERE status IN ('reserved', 'pending') AND direction = 'out'",
      )
      .one().n;
    const unjournaled = this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries WHERE version > journaled_version")
      .one().n;
    if (open > 0 || unjournaled > 0) {
      const attempts =
        this.sql
          .exec<{ a: number | null }>(
            "SELECT MIN(check_attempts) AS a FROM entries WHERE status IN ('reserved', 'pending')",
          )
          .one().a ?? 0;
      this.scheduleAlarm(Math.min(RECONCILE_FIRST_MS * 2 ** attempts, RECONCILE_MAX_MS));
    }
  }

  /** Looks up every reserved or pending payment not in flight here and applies what the wallet knows. */
  async reconcile(): Promise<{ resolved: number; stillPending: number }> {
    const agent = this.agentRow();
    if (!agent) return { resolved: 0, stillPending: 0 };
    const rows = this.sql
      .exec<EntryRow>("SELECT * FROM entries WHERE direction = 'out' AND status IN ('reserved', 'pending')")
      .toArray()
      .filter((e) => !this.inFlight.has(e.id));
    let resolved = 0;
    const wallet = this.wallet(agent);
    for (const e of rows) {
      let outcome: PaymentOutcome | { status: "unknown" };
      try {
        outcome = e.counterparty
          ? await this.payInternal(e.counterparty, e)
          : ((await usdcOutcome(this.env, e.invoice)) ?? (await this.askSender(wallet, e)));
      } catch (err) {
        // Not asked (the connection could not be read or opened) is not "the wallet never saw it".
        console.warn("reconcile lookup failed", { entry: e.id, error: errorName(err) });
        outcome = { status: "pending" };
      }
      if (outcome.status === "unknown") {
        // The wallet (for USDC: the chain) never saw it. Only once the invoice (the authorization)
        // can no longer be paid is releasing safe.
        const dead = payableUntil(e) <= this.nowSeconds();
        const reason = e.invoice?.startsWith("external:")
          ? "the payment was never made and its authorization expired"
          : "the wallet never received the payment and the invoice expired";
        outcome = dead ? { status: "failed", reason } : { status: "pending" };
      }
      const after = this.applyOutcome(e.id, outcome);
      if (after.status === "failed") await this.releaseClaim(after.payment_hash!);
      if (after.status === "succeeded" || after.status === "failed") resolved++;
      else this.sql.exec("UPDATE entries SET check_attempts = check_attempts + 1 WHERE id = ?", e.id);
    }
    return { resolved, stillPending: rows.length - resolved };
  }

  /**
   * What the wallet connection that sent a payment knows of it. Another connection is not asked:
   * it would answer "not found", so the payment stays held until its own wallet is connected again.
   */
  private async askSender(wallet: WalletBackend, e: EntryRow): Promise<PaymentOutcome | { status: "unknown" }> {
    if (e.wallet_ref !== null && e.wallet_ref !== (await walletRefOf(wallet))) return { status: "pending" };
    return wallet.lookupPayment(e.payment_hash!);
  }

  // ---- internals ----------------------------------------------------------------------------------

  private snapshot(sessionId?: string, sessionLimitMsat?: number): AgentSnapshot {
    const a = this.requireAgent();
    const policy = withConnectionCap(policyOf(a), sessionLimitMsat);
    const s = this.spendState(sessionId);
    return {
      id: a.id,
      operatorId: a.operator_id,
      name: a.name,
      status: a.status,
      policy,
      creditedMsat: a.credited_msat,
      spentMsat: a.spent_msat,
      reservedMsat: a.reserved_msat,
      availableMsat: s.availableMsat,
      dailySpentMsat: s.dailySpentMsat,
      sessionSpentMsat: s.sessionSpentMsat,
      remaining: remaining(policy, s),
    };
  }

  private spendState(sessionId?: string): SpendState {
    const a = this.requireAgent();
    const daily = this.sql
      .exec<{ v: number }>(
        "SELECT COALESCE(SUM(msat), 0) AS v FROM spend_minutes WHERE minute >= ?",
        minuteOf(this.now()) - DAY_MINUTES,
      )
      .one().v;
    const session = sessionId
      ? (this.sql.exec<{ msat: number }>("SELECT msat FROM session_spend WHERE session_id = ?", sessionId).toArray()[0]
          ?.msat ?? 0)
      : 0;
    return {
      availableMsat: a.credited_msat - a.spent_msat - a.reserved_msat,
      lifetimeSpentMsat: a.spent_msat + a.reserved_msat,
      dailySpentMsat: daily,
      sessionSpentMsat: session,
    };
  }

  /** Ledgers written before the running totals existed rebuild them once from their entries. */
  private backfillSpendTotals(): void {
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM spend_minutes").one().n > 0) return;
    const held = `CASE WHEN status = 'succeeded' THEN amount_msat + fee_msat ELSE amount_msat + fee_limit_msat END`;
    const spending = `direction = 'out' AND kind IN ('payment', 'internal') AND status IN ('reserved', 'pending', 'succeeded')`;
    this.sql.exec(
      `INSERT INTO spend_minutes (minute, msat) SELECT created_at / 60000, SUM(${held}) FROM entries
       WHERE ${spending} AND created_at >= ? GROUP BY created_at / 60000`,
      (minuteOf(Date.now()) - DAY_MINUTES - 1) * 60_000,
    );
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM session_spend").one().n > 0) return;
    this.sql.exec(
      `INSERT INTO session_spend (session_id, msat) SELECT session_id, SUM(${held}) FROM entries
       WHERE ${spending} AND session_id IS NOT NULL GROUP BY session_id`,
    );
  }

  /**
   * Keeps the rolling-window and per-session totals current as a payment's hold changes, so a
   * reservation reads two small rows instead of scanning a day of history. Minute buckets are
   * counted for a full 24 h after their minute began: a payment is released late, never early.
   */
  private addSpend(e: { created_at: number; session_id: string | null }, deltaMsat: number): void {
    if (deltaMsat === 0) return;
    const minute = minuteOf(e.created_at);
    this.sql.exec(
      "INSERT INTO spend_minutes (minute, msat) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET msat = msat + excluded.msat",
      minute,
      deltaMsat,
    );
    if (e.session_id !== null) {
      this.sql.exec(
        "INSERT INTO session_spend (session_id, msat) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET msat = msat + excluded.msat",
        e.session_id,
        deltaMsat,
      );
    }
  }

  private creditIncoming(e: EntryRow, amountMsat: number, preimage: string | null, payer: string | null): void {
    const now = this.now();
    this.update(e.id, {
      status: "succeeded",
      kind: payer ? "internal" : e.kind,
      amount_msat: amountMsat,
      preimage: preimage ?? e.preimage,
      counterparty: payer,
      settled_at: now,
    });
    this.sql.exec("UPDATE agent SET credited_msat = credited_msat + ?, updated_at = ?", amountMsat, now);
  }

  private update(id: string, fields: Partial<EntryRow>): void {
    const keys = Object.keys(fields);
    this.sql.exec(
      `UPDATE entries SET ${keys.map((k) => `${k} = ?`).join(", ")}, updated_at = ?, version = version + 1 WHERE id = ?`,
      ...keys.map((k) => fields[k] ?? null),
      this.now(),
      id,
    );
  }

  private entry(id: string): EntryRow {
    return this.sql.exec<EntryRow>("SELECT * FROM entries WHERE id = ?", id).one();
  }

  private incoming(paymentHash: string): EntryRow | undefined {
    return this.sql
      .exec<EntryRow>("SELECT * FROM entries WHERE payment_hash = ? AND direction = 'in' LIMIT 1", paymentHash)
      .toArray()[0];
  }

  private byKey(key: string): EntryRow | undefined {
    return this.sql.exec<EntryRow>("SELECT * FROM entries WHERE idempotency_key = ?", key).toArray()[0];
  }

  private agentRow(): AgentRow | undefined {
    return this.sql.exec<AgentRow>("SELECT * FROM agent LIMIT 1").toArray()[0];
  }

  private requireAgent(): AgentRow {
    const a = this.agentRow();
    if (!a) throw new SatchelError("NOT_FOUND", "No such agent.", { hint: "list_agents shows the agent ids." });
    return a;
  }

  private assertActive(a: AgentRow): void {
    if (a.status === "deleted") throw agentGone();
    if (a.status !== "active") {
      throw new SatchelError("AGENT_DISABLED", "This agent is disabled; it cannot make payments.", {
        hint: "The operator can reactivate it.",
      });
    }
  }

  private wallet(agent: AgentRow): WalletBackend {
    return walletFor(this.env, agent.operator_id);
  }

  /**
   * Makes sure the alarm fires within inMs. Not awaited on purpose: the write joins the current
   * atomic batch of storage writes. alarmAt mirrors the stored alarm (loaded at start-up).
   */
  private scheduleAlarm(inMs: number): void {
    const at = Date.now() + inMs;
    if (this.alarmAt !== null && this.alarmAt <= at && this.alarmAt > Date.now()) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /**
   * The payment paths answer without waiting for D1 (DESIGN.md §3 step 7: journal after commit),
   * and their journal write waits JOURNAL_COALESCE_MS for the payments that follow. The entries are
   * already committed here, and journaled_version marks what D1 has not seen yet: if the object is
   * evicted before the write, or the write fails, the alarm (set by every reservation) writes them.
   * Journal views call flushJournal first, so they never miss an answered payment.
   */
  private journalAfterAnswer(): void {
    this.journalTimer ??= setTimeout(() => {
      this.journalTimer = null;
      void this.journal();
    }, JOURNAL_COALESCE_MS);
  }

  /** Waits until every committed entry is in the D1 journal (read-your-writes for journal views and tests). */
  async flushJournal(): Promise<void> {
    if (this.journalTimer !== null) {
      clearTimeout(this.journalTimer);
      this.journalTimer = null;
    }
    await this.journal();
  }

  /** Writes every entry changed since its last journal write to D1; on failure the alarm retries. */
  private journal(): Promise<void> {
    // Chained so writes reach D1 in order; a failed link must not stop the links after it.
    const next = this.journalChain
      .catch(() => undefined)
      .then(async () => {
        const agent = this.agentRow();
        if (!agent) return;
        // Bounded per call; a backlog left after a burst is finished by the alarm.
        for (let batch = 0; batch < 10; batch++) {
          const rows = this.sql
            .exec<EntryRow>("SELECT * FROM entries WHERE version > journaled_version ORDER BY created_at LIMIT 200")
            .toArray();
          if (rows.length === 0) return;
          for (const r of rows) this.journalSent.add(r.id);
          try {
            await journalEntries(
              this.env.DB,
              rows.map((r) => toJournal(agent, r)),
            );
          } catch (e) {
            console.error("journal write failed; the alarm will retry", { error: errorName(e) });
            this.scheduleAlarm(5_000);
            return;
          }
          for (const r of rows) {
            this.sql.exec(
              "UPDATE entries SET journaled_version = ? WHERE id = ? AND journaled_version < ?",
              r.version,
              r.id,
              r.version,
            );
            this.journalSent.delete(r.id);
          }
        }
        this.scheduleAlarm(1_000);
      });
    this.journalChain = next;
    return next;
  }

  private now(): number {
    return Date.now() + this.clockSkewMs;
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /**
   * Benchmark hook (development only): n reserve + settle cycles through the real bookkeeping,
   * with no wallet call, so `npm run bench` can time the ledger itself. Returns how many settled.
   */
  async benchmarkReserveSettle(n: number): Promise<Result<number>> {
    const r = await capture(() => this.benchmarkCycles(n));
    await this.journal();
    return r;
  }

  private benchmarkCycles(n: number): number {
    if (!getConfig(this.env).development) throw new SatchelError("FORBIDDEN", "Development only.");
    let settled = 0;
    for (let i = 0; i < n; i++) {
      const entry = this.reserve({
        req: {},
        paymentHash: random32Hex(),
        invoice: "bench",
        description: null,
        expiresAt: this.nowSeconds() + 3600,
        amountMsat: 1000,
        feeLimitMsat: 0,
        payee: null,
        walletRef: null,
      });
      if (
        this.applyOutcome(entry.id, { status: "succeeded", preimage: null, feeMsat: msat(0) }).status === "succeeded"
      ) {
        settled++;
      }
    }
    return settled;
  }

  /** Test hook (development only): moves this ledger's clock forward. */
  async skewClock(ms: number): Promise<void> {
    if (!getConfig(this.env).development) throw new SatchelError("FORBIDDEN", "Development only.");
    this.clockSkewMs += ms;
  }
}

function agentGone(): SatchelError {
  return new SatchelError("NOT_FOUND", "This agent has been deleted.");
}

function errorName(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.slice(0, 120)}` : "unknown";
}

function toJournal(agent: AgentRow, r: EntryRow): JournalRow {
  return {
    id: r.id,
    agent_id: agent.id,
    operator_id: agent.operator_id,
    direction: r.direction,
    kind: r.kind,
    status: r.status,
    amount_msat: r.amount_msat,
    fee_msat: r.fee_msat,
    payment_hash: r.payment_hash,
    description: r.description,
    counterparty: r.counterparty,
    host: r.host,
    wallet_ref: r.wallet_ref,
    error_code: r.error_code,
    created_at: r.created_at,
    updated_at: r.updated_at,
    settled_at: r.settled_at,
  };
}
