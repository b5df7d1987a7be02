import { z } from "zod";
import { agentIssuer, createChallenge, verifyCredential } from "../../paywall/challenge";
import { paywallConfig } from "../../paywall/config";
import { configureX402Key } from "../../paywall/evm-key";
import { isReservedHeader } from "../../paywall/http";
import { payApi, payChallenge, type PayContext } from "../../paywall/pay";
import { iso } from "../format";
import { IdempotencyKey, Sats } from "../schemas";
import { defineTool, type ToolContext } from "../tool";

/** The agent's paying context; a per-connection cap travels on OAuth principals. */
function payContext(ctx: ToolContext): PayContext {
  const cap = (ctx.principal as { connectionCapSats?: unknown }).connectionCapSats;
  return {
    env: ctx.env,
    agentId: ctx.agentId!,
    operatorId: ctx.principal.operatorId,
    sessionId: ctx.sessionId,
    ...(typeof cap === "number" ? { sessionLimitMsat: cap * 1000 } : {}),
  };
}

const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, "an HTTP header name");
const Headers = z
  .record(
    HeaderName,
    z
      .string()
      .max(2048)
      .regex(/^[^\r\n]*$/, "no line breaks"),
  )
  .refine((h) => Object.keys(h).length <= 20, "at most 20 headers")
  .refine((h) => Object.keys(h).every((k) => !isReservedHeader(k)), {
    message: "Authorization, Host, payment and framing headers are set by Satchel",
  })
  // A refine is invisible in JSON Schema: state the count bound there too, so models see it.
  .meta({ maxProperties: 20 });

const PayApiOutput = z.object({
  url: z.string().describe("The URL that answered (after redirects)"),
  status: z.number().describe("HTTP status of the final answer"),
  headers: z.record(z.string(), z.string()).describe("Selected response headers"),
  body: z.unknown().describe("JSON as JSON, text as text, binary as a summary; null when empty"),
  body_type: z.enum(["json", "text", "binary", "empty"]),
  body_bytes: z.number(),
  truncated: z.boolean(),
  note: z.string().nullable(),
  dry_run: z.boolean(),
  paid: z.boolean().describe("A payment was made by this call"),
  payment_protocol: z.enum(["l402", "x402", "x402-lightning"]).nullable(),
  token_reused: z.boolean().describe("A cached L402 token was accepted: nothing paid"),
  price_sats: z.number().nullable(),
  would_pay: z.boolean().nullable().describe("dry_run only: whether a real call would pay"),
  refusal: z.object({ code: z.string(), message: z.string() }).nullable(),
  amount_sats: z.number(),
  fee_sats: z.number(),
  total_sats: z.number(),
  payment_id: z.string().nullable(),
  payment_hash: z.string().nullable(),
  preimage: z.string().nullable(),
  budget_remaining_sats: z.number(),
  usdc_amount: z.string().nullable().describe("X402 over USDC: the price in USDC"),
  btc_usd_rate: z.number().nullable().describe("X402 over USDC: the BTC/USD rate used"),
  spread_percent: z.number().nullable(),
  replayed: z.boolean().describe("The first result of this idempotency_key, returned again"),
});

const payL402Api = defineTool({
  name: "pay_l402_api",
  title: "Call a paid API",
  description:
    "Calls an HTTP(S) URL; if it answers 402 Payment Required, checks and pays the challenge (L402/LSAT, or X402 in USDC or sats) " +
    "within your limits and returns the real answer. Tokens are cached and reused. dry_run shows the price without paying. " +
    "An error after paying carries the payment in details: do not pay again.",
  audience: "agent",
  input: z.strictObject({
    url: z.string().min(8).max(2048).describe("https:// (http only to localhost in development)"),
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("GET"),
    headers: Headers.default({}).describe("Not Authorization"),
    body: z.string().max(65_536).optional(),
    max_payment_sats: Sats.optional().describe("Default: your per-payment limit, else 1000"),
    idempotency_key: IdempotencyKey.optional(),
    dry_run: z.boolean().default(false),
  }),
  output: PayApiOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async run(ctx, a) {
    return payApi(payContext(ctx), {
      url: a.url,
      method: a.method,
      headers: a.headers,
      ...(a.body === undefined ? {} : { body: a.body }),
      ...(a.max_payment_sats === undefined ? {} : { maxPaymentSats: a.max_payment_sats }),
      ...(a.idempotency_key === undefined ? {} : { idempotencyKey: a.idempotency_key }),
      dryRun: a.dry_run,
    });
  },
});

const Macaroon = z
  .string()
  .trim()
  .min(4)
  .max(8192)
  .regex(/^[A-Za-z0-9+/=_.,-]+$/, "base64 macaroon");

const payL402Challenge = defineTool({
  name: "pay_l402_challenge",
  description:
    "Pays an L402 challenge you hold (invoice + macaroon) after checking it; returns the token and the Authorization value to present. " +
    "With a URL, use pay_l402_api.",
  audience: "agent",
  input: z.strictObject({
    invoice: z.string().trim().min(10).max(4096),
    macaroon: Macaroon,
    max_payment_sats: Sats.optional().describe("Default: your per-payment limit, else 1000"),
    idempotency_key: IdempotencyKey.optional(),
  }),
  output: z.object({
    token: z.string().describe("macaroon:preimage"),
    authorization: z.string().describe("The Authorization header value: L402 macaroon:preimage"),
    amount_sats: z.number(),
    fee_sats: z.number(),
    total_sats: z.number(),
    payment_id: z.string(),
    payment_hash: z.string().nullable(),
    preimage: z.string(),
    budget_remaining_sats: z.number(),
    replayed: z.boolean(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  async run(ctx, a) {
    return payChallenge(payContext(ctx), {
      invoice: a.invoice,
      macaroon: a.macaroon,
      ...(a.max_payment_sats === undefined ? {} : { maxPaymentSats: a.max_payment_sats }),
      ...(a.idempotency_key === undefined ? {} : { idempotencyKey: a.idempotency_key }),
    });
  },
});

const Resource = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .regex(/^[^\r\n\0]+$/, "one line");

const createL402Challenge = defineTool({
  name: "create_l402_challenge",
  description:
    "Sells a resource with L402: an invoice paying into your balance and a macaroon bound to it, to give the payer. " +
    "They pay and present `L402 <macaroon>:<preimage>`; check that with verify_l402_payment.",
  audience: "agent",
  input: z.strictObject({
    resource: Resource.describe("A URL, service name or short description"),
    price_sats: Sats,
    description: z.string().max(500).optional(),
    expiry_seconds: z.number().int().min(60).max(604_800).default(3600),
  }),
  output: z.object({
    invoice: z.string(),
    macaroon: z.string(),
    payment_hash: z.string(),
    price_sats: z.number(),
    resource: z.string(),
    expires_at: z.string(),
    www_authenticate: z.string().describe("The header value a server would answer a 402 with"),
    instructions: z.string(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(ctx, a) {
    const c = await createChallenge(ctx.env, agentIssuer(ctx.env, ctx.agentId!), {
      resource: a.resource,
      priceSats: a.price_sats,
      description: a.description ?? `L402: ${a.resource}`.slice(0, 500),
      expirySeconds: a.expiry_seconds,
    });
    return {
      invoice: c.invoice,
      macaroon: c.macaroon,
      payment_hash: c.paymentHash,
      price_sats: a.price_sats,
      resource: a.resource,
      expires_at: iso(c.expiresAt * 1000)!,
      www_authenticate: c.header,
      instructions:
        "The payer pays the invoice and presents `Authorization: L402 <macaroon>:<preimage>`; check it with verify_l402_payment.",
    };
  },
});

const verifyL402Payment = defineTool({
  name: "verify_l402_payment",
  description:
    "Checks a credential presented to you (`L402 <macaroon>:<preimage>`) against a challenge you created: signature, caveats, " +
    "expiry, and that your invoice was paid. Returns valid, or invalid with the reason.",
  audience: "agent",
  input: z.strictObject({
    token: z.string().trim().min(10).max(9000),
    resource: Resource.optional().describe("If given, must match the token's resource"),
  }),
  output: z.object({
    valid: z.boolean(),
    reason: z.string(),
    message: z.string(),
    payment_hash: z.string().nullable(),
    resource: z.string().nullable(),
    expires_at: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const v = await verifyCredential(ctx.env, agentIssuer(ctx.env, ctx.agentId!), a.token, {
      ...(a.resource === undefined ? {} : { resource: a.resource }),
    });
    return {
      valid: v.valid,
      reason: v.reason,
      message: v.message,
      payment_hash: v.paymentHash,
      resource: v.resource,
      expires_at: v.expiresAt === null ? null : iso(v.expiresAt * 1000),
    };
  },
});

const configureX402 = defineTool({
  name: "configure_x402",
  title: "Configure X402 (USDC)",
  description:
    "Lets your agents pay X402 paywalls in USDC on Base and Base Sepolia: stores the EVM private key that signs their USDC payments " +
    "(EIP-3009 authorizations), encrypted; it is never shown again. Agents still pay in sats: the USDC price is converted at the current " +
    "BTC/USD rate plus a spread and charged to their budget. Use a dedicated wallet holding only the USDC you want agents to spend. " +
    "Calling it again replaces the key.",
  audience: "operator",
  input: z.strictObject({
    evm_private_key: z
      .string()
      .trim()
      .min(64)
      .max(66)
      .describe("The signing key: 32 bytes of hex, with or without 0x. Stored encrypted, never returned"),
    networks: z
      .array(z.enum(["base", "base-sepolia", "eip155:8453", "eip155:84532"]))
      .min(1)
      .max(4)
      .default(["eip155:8453", "eip155:84532"])
      .describe("Where the key may pay: Base (eip155:8453) and/or Base Sepolia (eip155:84532). Default both"),
  }),
  output: z.object({
    x402_ready: z.boolean(),
    address: z.string().describe("The key's public EVM address: fund it with USDC"),
    networks: z.array(z.string()),
    spread_percent: z.number().describe("Added to the sats price of every USDC payment"),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(ctx, a) {
    const v = await configureX402Key(ctx.env, ctx.principal.operatorId, {
      evmPrivateKey: a.evm_private_key,
      networks: a.networks,
    });
    return {
      x402_ready: true,
      address: v.address,
      networks: v.networks,
      spread_percent: paywallConfig(ctx.env).spreadPercent,
    };
  },
});

export const paywallTools = [payL402Api, payL402Challenge, createL402Challenge, verifyL402Payment, configureX402];
