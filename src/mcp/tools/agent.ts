import { z } from "zod";
import { call, ledgerStub, payThroughLedger } from "../../ledger/client";
import { msat } from "../../money";
import { walletFor } from "../../wallet/factory";
import { budgetOut, entryOut, iso, paymentOut, toSats, toSatsFloor } from "../format";
import {
  Description,
  Page,
  PayInvoiceInput,
  payInvoiceRequest,
  PaymentHash,
  PaymentOutput,
  Sats,
  TransactionOutput,
} from "../schemas";
import { defineTool, spendingSession, type ToolContext } from "../tool";

/** Agent tools always have an agent: the server resolves it before running them. */
const ledger = (ctx: ToolContext) => ledgerStub(ctx.env, ctx.agentId!);

const BudgetOutput = z.object({
  agent_id: z.string(),
  status: z.string(),
  limits: z.object({
    max_per_payment_sats: z.number().nullable(),
    daily_limit_sats: z.number().nullable(),
    budget_limit_sats: z.number().nullable(),
    per_session_limit_sats: z.number().nullable(),
    allowed_hosts: z.array(z.string()).nullable(),
  }),
  balance_sats: z.number(),
  reserved_sats: z.number(),
  spent: z.object({ lifetime_sats: z.number(), last_24h_sats: z.number(), session_sats: z.number() }),
  remaining: z.object({
    lifetime_sats: z.number().nullable(),
    daily_sats: z.number().nullable(),
    session_sats: z.number().nullable(),
    spendable_sats: z.number(),
  }),
});

const checkBalance = defineTool({
  name: "check_balance",
  description:
    "Your balance, sats reserved for payments in flight, what you can spend now under all limits, and the operator wallet you draw on.",
  audience: "agent",
  input: z.strictObject({}),
  output: z.object({
    balance_sats: z.number(),
    reserved_sats: z.number(),
    spendable_sats: z.number(),
    wallet_balance_sats: z.number(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx) {
    const [s, walletMsat] = await Promise.all([
      call(ledger(ctx).getSnapshot(ctx.sessionId)),
      walletFor(ctx.env, ctx.principal.operatorId).getBalance(),
    ]);
    return {
      balance_sats: toSatsFloor(Math.max(0, s.availableMsat)),
      reserved_sats: toSats(s.reservedMsat),
      spendable_sats: toSatsFloor(Math.min(s.remaining.spendableMsat, walletMsat)),
      wallet_balance_sats: toSatsFloor(walletMsat),
    };
  },
});

const createInvoice = defineTool({
  name: "create_invoice",
  description: "Creates a BOLT 11 invoice that pays into your balance; get_invoice_status tells when it is paid.",
  audience: "agent",
  input: z.strictObject({
    amount_sats: Sats,
    description: Description.default(""),
    expiry_seconds: z.number().int().min(60).max(604_800).default(3600),
  }),
  output: z.object({
    invoice: z.string(),
    payment_hash: z.string(),
    amount_sats: z.number(),
    description: z.string().nullable(),
    expires_at: z.string(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const e = await call(
      ledger(ctx).createInvoice({
        amountMsat: msat(a.amount_sats * 1000),
        description: a.description,
        expirySeconds: a.expiry_seconds,
      }),
    );
    return {
      invoice: e.invoice!,
      payment_hash: e.paymentHash!,
      amount_sats: toSats(e.amountMsat),
      description: e.description,
      expires_at: iso((e.expiresAt ?? 0) * 1000)!,
    };
  },
});

const invoiceStatus = defineTool({
  name: "get_invoice_status",
  description: "Whether an invoice you created is paid: open, succeeded or expired.",
  audience: "agent",
  input: z.strictObject({ payment_hash: PaymentHash }),
  output: z.object({
    status: z.string(),
    paid: z.boolean(),
    amount_sats: z.number(),
    preimage: z.string().nullable(),
    settled_at: z.string().nullable(),
    internal: z.boolean(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const e = await call(ledger(ctx).invoiceStatus(a.payment_hash));
    return {
      status: e.status,
      paid: e.status === "succeeded",
      amount_sats: toSats(e.amountMsat),
      preimage: e.preimage,
      settled_at: iso(e.settledAt),
      internal: e.kind === "internal",
    };
  },
});

const payInvoice = defineTool({
  name: "pay_invoice",
  description:
    "Pays a BOLT 11 invoice from your balance within your limits, after checking it. Never pays the same invoice twice. PAYMENT_PENDING means the outcome is unknown: do not pay again.",
  audience: "agent",
  input: PayInvoiceInput,
  output: PaymentOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const p = await payThroughLedger(ctx.env, ctx.agentId!, { ...payInvoiceRequest(a), ...spendingSession(ctx) });
    return paymentOut(p);
  },
});

const getTransactions = defineTool({
  name: "get_transactions",
  description: "Your payments and receipts, newest first.",
  audience: "agent",
  input: z.strictObject({
    ...Page,
    direction: z.enum(["in", "out"]).optional(),
    status: z.enum(["open", "reserved", "pending", "succeeded", "failed", "expired"]).optional(),
  }),
  output: z.object({ transactions: z.array(TransactionOutput) }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const rows = await call(
      ledger(ctx).history({
        limit: a.limit,
        offset: a.offset,
        ...(a.direction ? { direction: a.direction } : {}),
        ...(a.status ? { status: a.status } : {}),
      }),
    );
    return { transactions: rows.map(entryOut) };
  },
});

const budgetStatus = defineTool({
  name: "get_budget_status",
  description: "Your limits (per payment, daily, lifetime, per session), what you spent against each and what is left.",
  audience: "agent",
  input: z.strictObject({}),
  output: BudgetOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx) {
    const spending = spendingSession(ctx);
    return budgetOut(await call(ledger(ctx).getSnapshot(spending.sessionId, spending.sessionLimitMsat)));
  },
});

export { BudgetOutput };
export const agentTools = [checkBalance, createInvoice, invoiceStatus, payInvoice, getTransactions, budgetStatus];
