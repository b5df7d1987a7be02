// Paywalls Satchel did not write, as fetch handlers (Hono apps), for the Workers tests (called in
// process through the paywall transport hook) and the e2e tests (served on loopback by Node):
//   alby      @getalby/lightning-tools' server helpers: JSON "macaroon", `L402 version="0" token=…` (no comma)
//   aperture  binary V2 macaroons from the `macaroon` package with a v0 identifier, like Aperture:
//             two WWW-Authenticate headers (LSAT and L402); variants LSAT-only and `macaroon=` unquoted
//   hostile   every way a paywall can try to take more than it should
// Invoices come from an InvoiceSource: the fake network directly (Workers tests) or Satchel's
// /dev/fake-invoice (e2e). Servers check the preimage against the macaroon's hash, like Aperture.
import {
  issueL402Macaroon,
  makeL402AuthenticateHeader,
  parseL402Authorization,
  verifyL402Macaroon,
} from "@getalby/lightning-tools/402/l402";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { Hono } from "hono";
import * as macaroon from "macaroon";

export interface InvoiceSource {
  make(
    sats: number,
    opts?: { expirySeconds?: number; timestamp?: number },
  ): Promise<{ invoice: string; paymentHash: string }>;
}

/** Counts what each server saw, so tests can assert on requests and payments. */
export interface Stats {
  requests: number;
  challenges: number;
  paidRequests: number;
}

const hashOf = (preimageHex: string) => bytesToHex(sha256(hexToBytes(preimageHex)));
const validPreimage = (p: string) => /^[0-9a-f]{64}$/i.test(p);

/** @getalby/lightning-tools' server side, as its README shows it. */
export function albyServer(invoices: InvoiceSource, secret = "alby-test-secret"): { app: Hono; stats: Stats } {
  const stats: Stats = { requests: 0, challenges: 0, paidRequests: 0 };
  const app = new Hono();
  app.get("/alby/:item", async (c) => {
    stats.requests++;
    const auth = c.req.header("authorization");
    if (auth) {
      const parsed = parseL402Authorization(auth);
      if (parsed && validPreimage(parsed.preimage)) {
        try {
          const payload = await verifyL402Macaroon<{ item: string }>(secret, parsed.token);
          if (hashOf(parsed.preimage) === payload.paymentHash && payload.item === c.req.param("item")) {
            stats.paidRequests++;
            return c.json({ item: payload.item, data: "paid content from alby" });
          }
        } catch {
          // fall through to a new challenge
        }
      }
    }
    stats.challenges++;
    const { invoice, paymentHash } = await invoices.make(12);
    const token = await issueL402Macaroon(secret, paymentHash, { item: c.req.param("item") });
    c.header("www-authenticate", makeL402AuthenticateHeader({ token, invoice }));
    return c.json({ error: "payment required" }, 402);
  });
  return { app, stats };
}

export type ApertureVariant = "aperture" | "lsat-only" | "macaroon-unquoted";

/** Aperture's way: a binary V2 macaroon with a v0 identifier and service caveats, from the `macaroon` package. */
export function apertureServer(
  invoices: InvoiceSource,
  variant: ApertureVariant = "aperture",
  rootKey: Uint8Array = utf8ToBytes("aperture-test-root-key-0123456789"),
  price = 15,
): { app: Hono; stats: Stats; mint: (paymentHash: string) => string } {
  const stats: Stats = { requests: 0, challenges: 0, paidRequests: 0 };
  const mint = (paymentHash: string) => {
    const id = new Uint8Array(66);
    id.set(hexToBytes(paymentHash), 2);
    id.set(randomBytes(32), 34);
    const m = macaroon.newMacaroon({ identifier: id, location: "aperture", rootKey, version: 2 });
    m.addFirstPartyCaveat("services=fortune:0");
    m.addFirstPartyCaveat("fortune_capabilities=read");
    return macaroon.bytesToBase64(m.exportBinary());
  };
  const app = new Hono();
  app.all("/*", async (c) => {
    stats.requests++;
    const auth = c.req.header("authorization") ?? "";
    const m = /^(L402|LSAT) (\S+):([0-9a-f]{64})$/i.exec(auth);
    const schemeOk = m && (variant !== "lsat-only" || m[1]!.toUpperCase() === "LSAT");
    if (m && schemeOk) {
      try {
        const mac = macaroon.importMacaroon(m[2]!);
        mac.verify(rootKey, (cond) => (/^(services=fortune:0|fortune_capabilities=read)$/.test(cond) ? null : "bad"));
        const hash = bytesToHex(mac.identifier.slice(2, 34));
        if (hashOf(m[3]!) === hash) {
          stats.paidRequests++;
          return c.json({ fortune: "You will interoperate.", method: c.req.method, path: new URL(c.req.url).pathname });
        }
      } catch {
        // a new challenge below
      }
    }
    stats.challenges++;
    const { invoice, paymentHash } = await invoices.make(price);
    const mac = mint(paymentHash);
    if (variant === "lsat-only") {
      c.header("www-authenticate", `LSAT macaroon="${mac}", invoice="${invoice}"`);
    } else if (variant === "macaroon-unquoted") {
      c.header("www-authenticate", `L402 macaroon=${mac} invoice=${invoice}`);
    } else {
      c.header("www-authenticate", `LSAT macaroon="${mac}", invoice="${invoice}"`);
      c.header("www-authenticate", `L402 macaroon="${mac}", invoice="${invoice}"`, { append: true });
    }
    return c.text("payment required", 402);
  });
  return { app, stats, mint };
}

/** A v0-identifier macaroon from the `macaroon` package, for hostile challenges. */
function anyMacaroon(paymentHash: string): string {
  const id = new Uint8Array(66);
  id.set(hexToBytes(paymentHash), 2);
  id.set(randomBytes(32), 34);
  const m = macaroon.newMacaroon({ identifier: id, rootKey: randomBytes(32), version: 2 });
  return macaroon.bytesToBase64(m.exportBinary());
}

/**
 * Paths of a paywall that misbehaves. Paid requests are accepted when the preimage matches the
 * macaroon's hash (so a payment that checks allowed is really spent), then the path misbehaves.
 */
export function hostileServer(invoices: InvoiceSource, opts: { evilRedirect: string }): { app: Hono; stats: Stats } {
  const stats: Stats = { requests: 0, challenges: 0, paidRequests: 0 };
  const app = new Hono();
  const paid = (auth: string | undefined) => {
    const m = /^(?:L402|LSAT) (\S+):([0-9a-f]{64})$/i.exec(auth ?? "");
    if (!m) return false;
    try {
      return bytesToHex(macaroon.importMacaroon(m[1]!).identifier.slice(2, 34)) === hashOf(m[2]!);
    } catch {
      return false;
    }
  };
  const challenge = async (
    sats: number,
    o: { expirySeconds?: number; timestamp?: number; wrongHash?: boolean } = {},
  ) => {
    stats.challenges++;
    const { invoice, paymentHash } = await invoices.make(sats, o);
    const mac = anyMacaroon(o.wrongHash ? bytesToHex(randomBytes(32)) : paymentHash);
    return { header: `L402 macaroon="${mac}", invoice="${invoice}"` };
  };
  app.use("*", async (_c, next) => {
    stats.requests++;
    await next();
  });
  app.get("/above-max", async (c) => {
    c.header("www-authenticate", (await challenge(5000)).header);
    return c.body(null, 402);
  });
  app.get("/hash-mismatch", async (c) => {
    c.header("www-authenticate", (await challenge(10, { wrongHash: true })).header);
    return c.body(null, 402);
  });
  app.get("/expired", async (c) => {
    const old = Math.floor(Date.now() / 1000) - 7200;
    c.header("www-authenticate", (await challenge(10, { timestamp: old, expirySeconds: 60 })).header);
    return c.body(null, 402);
  });
  app.get("/garbage", (c) => {
    c.header("www-authenticate", 'L402 \u0001\u0002 ==="" invoice lnbc1garbage, , macaroon');
    return c.text("pay me", 402);
  });
  app.get("/no-challenge", (c) => c.text("pay me somehow", 402));
  // Always 402: even a correctly paid credential is refused (402 again after payment, 402 loop).
  app.get("/always-402", async (c) => {
    if (paid(c.req.header("authorization"))) stats.paidRequests++;
    c.header("www-authenticate", (await challenge(7)).header);
    return c.body(null, 402);
  });
  app.get("/huge", async (c) => {
    if (paid(c.req.header("authorization"))) {
      stats.paidRequests++;
      const chunk = new Uint8Array(64 * 1024).fill(0x61);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent >= 64 * 1024 * 1024) return ctrl.close();
          sent += chunk.byteLength;
          ctrl.enqueue(chunk);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/plain" } });
    }
    c.header("www-authenticate", (await challenge(9)).header);
    return c.body(null, 402);
  });
  app.get("/slow", async (c) => {
    if (paid(c.req.header("authorization"))) {
      stats.paidRequests++;
      // Sends a first chunk, then nothing, ever: only the caller's deadline ends it.
      const stream = new ReadableStream<Uint8Array>({
        start(ctrl) {
          ctrl.enqueue(utf8ToBytes("{"));
        },
      });
      return new Response(stream, { headers: { "content-type": "application/json" } });
    }
    c.header("www-authenticate", (await challenge(8)).header);
    return c.body(null, 402);
  });
  app.get("/redirect-out", (c) => c.redirect(opts.evilRedirect, 302));
  app.get("/redirect-loop", (c) => c.redirect(new URL(c.req.url).pathname, 302));
  app.get("/big-free", () => new Response("x".repeat(100_000), { headers: { "content-type": "text/plain" } }));
  app.get("/binary", () => new Response(new Uint8Array([0, 1, 2, 255]), { headers: { "content-type": "image/png" } }));
  return { app, stats };
}
