// Demo paywalls on the Worker itself (development only), served by the same challenge code as
// create_l402_challenge / verify_l402_payment, with invoices from a fake "demo-paywall" node:
//   GET /demo/l402/fortune   10 sats, L402 (also offered as LSAT)
//   GET /demo/l402/joke       5 sats, L402
//   GET /demo/x402/quote     21 sats, X402 v2, Lightning variant of `exact`
// After `npm start`, an agent calls pay_l402_api on http://localhost:8787/demo/l402/fortune.
import { Hono, type Context } from "hono";
import { getConfig } from "../config";
import { paymentHashOf, preimageMatches } from "../lightning/preimage";
import { decodeInvoice } from "../lightning/bolt11";
import { createChallenge, verifyCredential, type ChallengeIssuer } from "../paywall/challenge";
import { base64ToBytes } from "../paywall/macaroon";
import { encodeJsonBase64 } from "../paywall/x402";
import { FAKE_NETWORK_NAME } from "../wallet/fake";
import type { NodeRef } from "../wallet/fake-network";

export const demo = new Hono<{ Bindings: Env }>();

/** The fake node that sells the demo resources. */
export const DEMO_NODE: NodeRef = { id: "demo-paywall", startMsat: 0 };

/** CAIP-2 ids of the Bitcoin chains (genesis block hash prefixes), for X402's Lightning scheme. */
export const BIP122: Record<string, string> = {
  bitcoin: "bip122:000000000019d6689c085ae165831e93",
  testnet: "bip122:000000000933ea01ad0ee984209779ba",
  signet: "bip122:00000008819873e925422c1ff0f99f7c",
  regtest: "bip122:0f9188f13cb7b2c71f2a335e3a4fc328",
};

const FORTUNES = [
  "A sat saved is a sat earned.",
  "Your next invoice will be paid promptly.",
  "Low fees are in your future.",
  "Patience: every block arrives in time.",
];
const JOKES = [
  "Why did the Lightning node cross the channel? To get to the other side of the liquidity.",
  "How many sats does it take to change a light bulb? One, if the route is good.",
];
const QUOTES = [
  "“Running bitcoin.” — Hal Finney",
  "“The root problem with conventional currency is all the trust that's required to make it work.” — Satoshi Nakamoto",
];

function network(env: Env) {
  return env.FAKE_LN.get(env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
}

/** The demo seller: invoices from the demo node, paid when the fake network says so. */
export function demoIssuer(env: Env): ChallengeIssuer {
  const chain = getConfig(env).network;
  return {
    id: "demo",
    async makeInvoice(req) {
      const made = await network(env).makeInvoice(DEMO_NODE, {
        ...req,
        network: chain,
        now: Math.floor(Date.now() / 1000),
      });
      return { invoice: made.invoice, paymentHash: made.paymentHash, expiresAt: made.expiresAt };
    },
    async isPaid(paymentHash) {
      const s = await network(env).lookupInvoice(DEMO_NODE, paymentHash, Math.floor(Date.now() / 1000));
      return s.status === "paid";
    },
  };
}

demo.use("/demo/*", async (c, next) => {
  if (!getConfig(c.env).development) return c.text("Not found", 404);
  await next();
});

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** Serves a resource behind L402: a valid credential gets the content, anything else a fresh challenge. */
async function l402Gate(c: Context<{ Bindings: Env }>, priceSats: number, content: () => unknown) {
  const resource = new URL(c.req.url).pathname;
  const issuer = demoIssuer(c.env);
  const auth = c.req.header("authorization");
  if (auth && /^\s*(L402|LSAT)\s/i.test(auth)) {
    const v = await verifyCredential(c.env, issuer, auth, { resource });
    if (v.valid) return c.json({ resource, paid_sats: priceSats, content: content() });
  }
  const ch = await createChallenge(c.env, issuer, {
    resource,
    priceSats,
    description: `Satchel demo: ${resource}`,
    expirySeconds: 600,
  });
  c.header("www-authenticate", ch.header);
  c.header("www-authenticate", `LSAT macaroon="${ch.macaroon}", invoice="${ch.invoice}"`, { append: true });
  c.header("cache-control", "no-store");
  return c.json(
    {
      error: "payment required",
      price_sats: priceSats,
      invoice: ch.invoice,
      macaroon: ch.macaroon,
      payment_hash: ch.paymentHash,
    },
    402,
  );
}

demo.get("/demo/l402/fortune", (c) => l402Gate(c, 10, () => ({ fortune: pick(FORTUNES) })));
demo.get("/demo/l402/joke", (c) => l402Gate(c, 5, () => ({ joke: pick(JOKES) })));

/** X402 v2, Lightning `exact`: the invoice rides in the requirements; the payment proves itself by preimage. */
demo.get("/demo/x402/quote", async (c) => {
  const priceSats = 21;
  const url = new URL(c.req.url);
  const chain = getConfig(c.env).network;
  const signature = c.req.header("payment-signature") ?? c.req.header("x-payment");
  let failure = "payment required";
  if (signature) {
    const settled = await settleLightning(c.env, signature, priceSats * 1000);
    if (settled.ok) {
      c.header(
        "payment-response",
        encodeJsonBase64({ success: true, transaction: settled.paymentHash, network: BIP122[chain] }),
      );
      return c.json({ resource: url.pathname, paid_sats: priceSats, content: { quote: pick(QUOTES) } });
    }
    failure = settled.reason;
  }
  const issuer = demoIssuer(c.env);
  const made = await issuer.makeInvoice({
    amountMsat: priceSats * 1000,
    description: `Satchel demo: ${url.pathname}`,
    expirySeconds: 600,
  });
  const required = {
    x402Version: 2,
    error: failure,
    resource: { url: url.toString(), description: "A quote, for 21 sats", mimeType: "application/json" },
    accepts: [
      {
        scheme: "exact",
        network: BIP122[chain],
        amount: String(priceSats * 1000),
        asset: "BTC",
        payTo: "demo-paywall",
        maxTimeoutSeconds: 600,
        extra: { paymentMethod: "lightning", invoice: made.invoice },
      },
    ],
  };
  c.header("payment-required", encodeJsonBase64(required));
  c.header("cache-control", "no-store");
  return c.json(required, 402);
});

/** Checks an X402 Lightning payment payload: our invoice, the right amount, paid, with its preimage. */
async function settleLightning(
  env: Env,
  header: string,
  amountMsat: number,
): Promise<{ ok: true; paymentHash: string } | { ok: false; reason: string }> {
  let payload: { payload?: { invoice?: unknown; preimage?: unknown } };
  try {
    payload = JSON.parse(new TextDecoder().decode(base64ToBytes(header))) as typeof payload;
  } catch {
    return { ok: false, reason: "unreadable payment payload" };
  }
  const invoice = payload.payload?.invoice;
  const preimage = payload.payload?.preimage;
  if (typeof invoice !== "string") return { ok: false, reason: "payment payload without invoice" };
  let hash: string;
  try {
    const inv = decodeInvoice(invoice);
    if (inv.amountMsat !== amountMsat) return { ok: false, reason: "wrong amount" };
    hash = inv.paymentHash;
  } catch {
    return { ok: false, reason: "invalid invoice" };
  }
  if (typeof preimage === "string" && !preimageMatches(preimage, hash)) {
    return { ok: false, reason: "preimage does not match" };
  }
  if (!(await demoIssuer(env).isPaid(hash))) return { ok: false, reason: "invoice not paid" };
  return { ok: true, paymentHash: typeof preimage === "string" ? paymentHashOf(preimage) : hash };
}
