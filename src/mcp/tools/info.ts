import { z } from "zod";
import { RATE_LIMITS } from "../../auth/rate-limit";
import { getConfig } from "../../config";
import { decodeInvoice, isExpired } from "../../lightning/bolt11";
import { walletFor } from "../../wallet/factory";
import { x402Ready } from "../../paywall/evm-key";
import { overview } from "../../accounts/operator";
import { call, ledgerStub } from "../../ledger/client";
import { iso, toSats, toSatsFloor } from "../format";
import { Invoice } from "../schemas";
import { defineTool } from "../tool";

export const VERSION = "0.1.0";

const getInfo = defineTool({
  name: "get_info",
  title: "Service info",
  description: "Satchel's version, Bitcoin network, and the wallet behind payments with the methods it supports.",
  audience: "everyone",
  input: z.strictObject({}),
  output: z.object({
    service: z.string(),
    version: z.string(),
    network: z.string(),
    wallet: z.object({
      kind: z.string(),
      alias: z.string(),
      pubkey: z.string().nullable(),
      methods: z.array(z.string()),
    }),
    caller: z.enum(["operator", "agent"]),
    units: z.literal("sats"),
    x402_ready: z.boolean().describe("X402 paywalls in USDC can be paid: the operator configured an EVM key"),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx) {
    const [info, x402] = await Promise.all([
      walletFor(ctx.env, ctx.principal.operatorId).getInfo(),
      x402Ready(ctx.env, ctx.principal.operatorId),
    ]);
    return {
      service: "Satchel",
      version: VERSION,
      network: getConfig(ctx.env).network,
      wallet: { kind: info.kind, alias: info.alias, pubkey: info.pubkey, methods: info.methods },
      caller: ctx.principal.kind,
      units: "sats" as const,
      x402_ready: x402,
    };
  },
});

const whoami = defineTool({
  name: "whoami",
  title: "Who am I",
  description: "Whether you act as an operator or an agent, with your ids and balances.",
  audience: "everyone",
  input: z.strictObject({}),
  output: z.object({
    kind: z.enum(["operator", "agent"]),
    operator_id: z.string(),
    agent_id: z.string().nullable(),
    auth: z.string(),
    balance_sats: z.number().optional(),
    spendable_sats: z.number().optional(),
    wallet_balance_sats: z.number().optional(),
    allocated_sats: z.number().optional(),
    unallocated_sats: z.number().optional(),
    agent_count: z.number().optional(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx) {
    const p = ctx.principal;
    if (p.kind === "agent") {
      const s = await call(ledgerStub(ctx.env, p.agentId).getSnapshot(ctx.sessionId));
      return {
        kind: p.kind,
        operator_id: p.operatorId,
        agent_id: p.agentId,
        auth: p.via,
        balance_sats: toSatsFloor(Math.max(0, s.availableMsat)),
        spendable_sats: toSatsFloor(s.remaining.spendableMsat),
      };
    }
    const o = await overview(ctx.env, p.operatorId);
    return {
      kind: p.kind,
      operator_id: p.operatorId,
      agent_id: null,
      auth: p.via,
      wallet_balance_sats: toSatsFloor(o.walletBalanceMsat),
      allocated_sats: toSats(o.allocatedMsat),
      unallocated_sats: toSatsFloor(o.unallocatedMsat),
      agent_count: o.agentCount,
    };
  },
});

const decode = defineTool({
  name: "decode_invoice",
  description:
    "Reads a BOLT 11 invoice without paying it: amount, description, payee, expiry. Use it to check a price before paying.",
  audience: "everyone",
  input: z.strictObject({ invoice: Invoice }),
  output: z.object({
    network: z.string(),
    amount_sats: z.number().nullable(),
    amount_msat: z.number().nullable(),
    description: z.string().nullable(),
    description_hash: z.string().nullable(),
    payee: z.string(),
    payment_hash: z.string(),
    created_at: z.string(),
    expires_at: z.string(),
    expiry_seconds: z.number(),
    is_expired: z.boolean(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(_ctx, { invoice }) {
    const d = decodeInvoice(invoice);
    return {
      network: d.network,
      amount_sats: d.amountMsat === null ? null : Math.ceil(d.amountMsat / 1000),
      amount_msat: d.amountMsat,
      description: d.description,
      description_hash: d.descriptionHash,
      payee: d.payee,
      payment_hash: d.paymentHash,
      created_at: iso(d.timestamp * 1000)!,
      expires_at: iso(d.expiresAt * 1000)!,
      expiry_seconds: d.expirySeconds,
      is_expired: isExpired(d, Math.floor(Date.now() / 1000)),
    };
  },
});

const rateLimits = defineTool({
  name: "get_rate_limits",
  description:
    "Tool calls allowed per credential and requests per IP, each per window. Past a limit, calls fail with RATE_LIMITED until the window ends.",
  audience: "everyone",
  input: z.strictObject({}),
  output: z.object({
    per_credential: z.object({ limit: z.number(), period_seconds: z.number() }),
    per_ip: z.object({ limit: z.number(), period_seconds: z.number() }),
    credential: z.string(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx) {
    return {
      per_credential: { limit: RATE_LIMITS.perKey.limit, period_seconds: RATE_LIMITS.perKey.periodSeconds },
      per_ip: { limit: RATE_LIMITS.perIp.limit, period_seconds: RATE_LIMITS.perIp.periodSeconds },
      credential: ctx.principal.via,
    };
  },
});

export const infoTools = [getInfo, whoami, decode, rateLimits];
