import { z } from "zod";
import { SatchelError } from "../../errors";
import type { KeysendLedgerRequest } from "../../ledger/agent-ledger";
import { keysendRecords, MAX_KEYSEND_MESSAGE_CHARS, nodeId } from "../../lightning/keysend";
import type { WalletConnectionInput } from "../../wallet/connection";
import { connectWallet as connectAndTest } from "../../wallet/connect";
import { paymentOut, toSatsFloor } from "../format";
import { keysendThroughLedger } from "../../ledger/client";
import * as lnurl from "../../paywall/lnurl";
import { iso, toSats } from "../format";
import { IdempotencyKey, PaymentOutput, Sats } from "../schemas";
import { defineTool, spendingSession } from "../tool";

const connectWallet = defineTool({
  name: "connect_wallet",
  description:
    'Connects the wallet that pays for all your agents: {type:"nwc", uri:"nostr+walletconnect://…"} (Alby Hub, Mutiny, …), {type:"lnbits", url, api_key} (admin key pays; invoice key only receives), or {type:"fake"} for the built-in test wallet. Satchel tests the wallet first (info and balance), stores the secret encrypted, and reports what the wallet supports.',
  audience: "operator",
  input: z.strictObject({
    type: z.enum(["nwc", "lnbits", "fake"]),
    uri: z.string().max(2048).optional().describe("nwc: the nostr+walletconnect:// connection string"),
    url: z.string().max(2048).optional().describe("lnbits: the server's base URL"),
    api_key: z.string().max(256).optional().describe("lnbits: the wallet's admin key (or invoice key: receive only)"),
  }),
  output: z.object({
    type: z.enum(["nwc", "lnbits", "fake"]),
    description: z.string(),
    wallet: z.object({
      kind: z.string(),
      alias: z.string(),
      network: z.string(),
      pubkey: z.string().nullable(),
      methods: z.array(z.string()),
      encryption: z.string().nullable(),
      notifications: z.array(z.string()),
      can_pay: z.boolean(),
      can_receive: z.boolean(),
      keysend: z.boolean(),
    }),
    balance_sats: z.number(),
    warnings: z.array(z.string()),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const input: WalletConnectionInput =
      a.type === "fake"
        ? { type: "fake" }
        : a.type === "nwc"
          ? { type: "nwc", uri: required(a.uri, "uri") }
          : { type: "lnbits", url: required(a.url, "url"), apiKey: required(a.api_key, "api_key") };
    const w = await connectAndTest(ctx.env, ctx.principal.operatorId, input);
    const info = w.info;
    return {
      type: w.type,
      description: w.description,
      wallet: {
        kind: info.kind,
        alias: info.alias,
        network: info.network,
        pubkey: info.pubkey,
        methods: info.methods,
        encryption: info.encryption ?? null,
        notifications: info.notifications ?? [],
        can_pay: w.canPay,
        can_receive: info.methods.includes("make_invoice"),
        keysend: info.methods.includes("keysend"),
      },
      balance_sats: toSatsFloor(w.balanceMsat),
      warnings: w.warnings,
    };
  },
});

function required(v: string | undefined, name: string): string {
  if (v === undefined || v.trim() === "") {
    throw new SatchelError("INVALID_INPUT", `${name} is required for this wallet type.`);
  }
  return v;
}

const keysend = defineTool({
  name: "keysend",
  description:
    "Sends sats to a Lightning node by public key, without an invoice, with an optional message; within your limits like pay_invoice. PAYMENT_PENDING means the outcome is unknown: do not send again.",
  audience: "agent",
  input: z.strictObject({
    destination: z.string().regex(/^0[23][0-9a-fA-F]{64}$/, "a node public key: 66 hex characters starting 02 or 03"),
    amount_sats: Sats,
    message: z.string().max(MAX_KEYSEND_MESSAGE_CHARS).optional(),
    max_payment_sats: Sats.optional(),
    idempotency_key: IdempotencyKey.optional(),
  }),
  output: PaymentOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const req: KeysendLedgerRequest = {
      destination: nodeId(a.destination),
      amountMsat: a.amount_sats * 1000,
      tlvRecords: keysendRecords(a.message),
      ...(a.message ? { message: a.message } : {}),
      ...(a.max_payment_sats === undefined ? {} : { maxPaymentMsat: a.max_payment_sats * 1000 }),
      ...(a.idempotency_key === undefined ? {} : { idempotencyKey: a.idempotency_key }),
      ...spendingSession(ctx),
    };
    return paymentOut(await keysendThroughLedger(ctx.env, ctx.agentId!, req));
  },
});

const payLightningAddress = defineTool({
  name: "pay_lightning_address",
  description:
    "Pays a Lightning address (name@domain) or LNURL-pay link within your limits; the invoice it returns is verified before paying. PAYMENT_PENDING means the outcome is unknown: do not pay again.",
  audience: "agent",
  input: z.strictObject({
    address: z.string().trim().min(3).max(2048),
    amount_sats: Sats,
    comment: z.string().max(2000).optional().describe("Sent if the recipient accepts comments"),
    max_payment_sats: Sats.optional(),
    idempotency_key: IdempotencyKey.optional(),
  }),
  output: PaymentOutput.extend({
    recipient: z.string(),
    description: z.string().nullable(),
    success_action: z
      .object({
        tag: z.string(),
        message: z.string().optional(),
        url: z.string().optional(),
        description: z.string().optional(),
      })
      .nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const r = await lnurl.payLightningAddress(
      { env: ctx.env, agentId: ctx.agentId!, ...spendingSession(ctx) },
      {
        address: a.address,
        amountMsat: a.amount_sats * 1000,
        ...(a.comment === undefined ? {} : { comment: a.comment }),
        ...(a.max_payment_sats === undefined ? {} : { maxPaymentMsat: a.max_payment_sats * 1000 }),
        ...(a.idempotency_key === undefined ? {} : { idempotencyKey: a.idempotency_key }),
      },
    );
    return {
      ...paymentOut(r.payment),
      recipient: r.recipient,
      description: r.description,
      success_action: r.successAction,
    };
  },
});

const claimWithdraw = defineTool({
  name: "claim_lnurl_withdraw",
  description:
    "Claims sats from an LNURL-withdraw link into your balance; amount_sats defaults to the most the link allows. Not paid yet? Check get_invoice_status.",
  audience: "agent",
  input: z.strictObject({
    lnurl: z.string().trim().min(8).max(2048),
    amount_sats: Sats.optional(),
    description: z.string().max(200).optional(),
  }),
  output: z.object({
    status: z.string(),
    paid: z.boolean(),
    amount_sats: z.number(),
    payment_hash: z.string(),
    service: z.string(),
    expires_at: z.string().nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(ctx, a) {
    const { entry, service } = await lnurl.claimLnurlWithdraw(ctx.env, ctx.agentId!, {
      lnurl: a.lnurl,
      ...(a.amount_sats === undefined ? {} : { amountMsat: a.amount_sats * 1000 }),
      ...(a.description === undefined ? {} : { description: a.description }),
    });
    return {
      status: entry.status,
      paid: entry.status === "succeeded",
      amount_sats: toSats(entry.amountMsat),
      payment_hash: entry.paymentHash!,
      service,
      expires_at: iso(entry.expiresAt === null ? null : entry.expiresAt * 1000),
    };
  },
});

const lnurlAuth = defineTool({
  name: "lnurl_auth",
  title: "LNURL-auth login",
  description: "Logs in to a service with LNURL-auth, with a key unique to you and its domain. Moves no money.",
  audience: "agent",
  input: z.strictObject({
    lnurl: z.string().trim().min(8).max(2048).describe("lnurl1…, keyauth:// or https URL with tag=login"),
  }),
  output: z.object({
    status: z.literal("OK"),
    domain: z.string(),
    linking_key: z.string(),
    action: z.string().nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    const r = await lnurl.lnurlLogin(ctx.env, ctx.agentId!, a.lnurl);
    return { status: "OK" as const, domain: r.domain, linking_key: r.linkingPubkey, action: r.action };
  },
});

export const walletTools = [connectWallet, keysend, payLightningAddress, claimWithdraw, lnurlAuth];
