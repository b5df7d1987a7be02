// e2e globalSetup for the paid-API tests: paywalls Satchel did not write, served by Node on
// 127.0.0.1, and a Satchel of its own (wrangler dev) whose RATE_SOURCE_URL is the loopback rate
// server below, with a wallet-sealing key (configure_x402 seals the EVM key with it).
//   rate        CoinGecko-shaped BTC/USD price; price, age and status set through the control API
//   x402-v2     @x402/hono paymentMiddleware, USDC on Base Sepolia, local facilitator (@x402/core + @x402/evm)
//   x402-v1     the v1 wire format, same facilitator (v1 scheme)
//   x402-lost   x402-v1 whose paid requests never get an answer (the connection is dropped)
//   x402-flaky  x402-v1 that settles the first paid request, then drops its connection instead of answering
//   x402-ln     X402 Lightning `exact`, invoices from Satchel's fake merchant node
//   alby        @getalby/lightning-tools' server helpers (test/support/paywalls.ts)
//   aperture    binary macaroons from the `macaroon` package, LSAT + L402 headers; lsat-only; macaroon= unquoted
//   rpc         JSON-RPC eth_call over the local USDC chain (Satchel's BASE_RPC_URL, BASE_SEPOLIA_RPC_URL)
//   control     GET /state (settlements, per-server counts), POST /rate, POST /rpc ({ down })
// Tests read the URLs with inject("paywallLab"), and the EVM key funded on the local chain with
// inject("x402EvmKey"). Nothing here reaches beyond loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../../scripts/local-server.mjs";
import { albyServer, apertureServer, type InvoiceSource, type Stats } from "./paywalls";
import {
  LocalUsdcChain,
  localFacilitator,
  rateServer,
  rpcServer,
  x402LightningServer,
  x402V1Server,
  x402V2Server,
  type X402Stats,
} from "./paywall-x402";

export interface PaywallLab {
  rate: string;
  control: string;
  x402V2: string;
  x402V1: string;
  x402Lost: string;
  x402Flaky: string;
  x402Ln: string;
  alby: string;
  aperture: string;
  lsat: string;
  unquoted: string;
  /** Where the X402 payments go (the merchant's EVM address). */
  payTo: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    paywallLab: PaywallLab;
    paywallSatchelUrl: string;
    paywallSatchelDevKey: string;
    /** An EVM private key holding 100 USDC on the local chain (both networks). */
    x402EvmKey: string;
  }
}

/** What GET /state answers. */
export interface PaywallLabState {
  settlements: { network: string; from: string; to: string; value: string; nonce: string; transaction: string }[];
  balances: Record<string, string>;
  stats: Record<string, Stats | X402Stats>;
  rateHits: number;
  /** JSON-RPC requests the local chain's endpoint received. */
  rpcCalls: number;
}

/**
 * Serves a fetch handler on 127.0.0.1 with node:http. hangUp picks requests whose connection is
 * dropped: "before" the handler sees them, or "after" it ran (the answer is lost on the way back).
 */
export async function serveOnLoopback(
  fetchHandler: (req: Request) => Response | Promise<Response>,
  hangUp: (req: IncomingMessage) => "before" | "after" | false = () => false,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const drop = hangUp(req);
    if (drop === "before") {
      req.socket.destroy();
      return;
    }
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
        else if (v !== undefined) headers.set(k, v);
      }
      const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
      const response = await fetchHandler(
        new Request(`http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`, {
          method: req.method ?? "GET",
          headers,
          ...(body ? { body } : {}),
        }),
      );
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((v, k) => {
        const prior = out[k];
        out[k] = prior === undefined ? v : ([] as string[]).concat(prior, v);
      });
      if (drop === "after") {
        req.socket.destroy();
        return;
      }
      // Several WWW-Authenticate headers (Aperture sends LSAT and L402) arrive joined with ", ", as a proxy may join them.
      res.writeHead(response.status, out);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(e instanceof Error ? e.message : String(e));
    }
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const closers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const rate = rateServer({ usd: 100_000 });
    const rateSrv = await serveOnLoopback((r) => rate.app.fetch(r));
    closers.push(rateSrv.close);

    const chain = new LocalUsdcChain();
    const rpc = rpcServer(chain);
    const rpcSrv = await serveOnLoopback((r) => rpc.app.fetch(r));
    closers.push(rpcSrv.close);

    const satchel = await startLocalServer({
      vars: {
        RATE_SOURCE_URL: `${rateSrv.url}/api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true`,
        BASE_RPC_URL: `${rpcSrv.url}/base`,
        BASE_SEPOLIA_RPC_URL: `${rpcSrv.url}/base-sepolia`,
        X402_SPREAD_PERCENT: "1",
        WALLET_SECRET_KEY: "c2F0Y2hlbC1lMmUtcGF5d2FsbC1zZWNyZXRrZXkhISE=",
        // Many tool calls from one credential in a few seconds: the rate limits are not under test here.
        RATE_LIMITS: "off",
      },
    });
    closers.push(() => satchel.stop());

    const invoices: InvoiceSource = {
      async make(sats) {
        const res = await fetch(`${satchel.url}/dev/fake-invoice`, {
          method: "POST",
          headers: { authorization: `Bearer ${satchel.devKey}`, "content-type": "application/json" },
          body: JSON.stringify({ amount_sats: sats, description: "e2e paywall" }),
        });
        if (!res.ok) throw new Error(`/dev/fake-invoice answered ${res.status}`);
        const made = (await res.json()) as { invoice: string; payment_hash: string };
        return { invoice: made.invoice, paymentHash: made.payment_hash };
      },
    };

    const { facilitator, client } = localFacilitator(chain);
    const evmKey = generatePrivateKey();
    const payer = privateKeyToAccount(evmKey).address;
    chain.mint("eip155:84532", payer, 100_000_000n);
    chain.mint("eip155:8453", payer, 100_000_000n);
    const payTo = "0x2222222222222222222222222222222222222222";

    const v2 = x402V2Server(client, payTo);
    const v1 = x402V1Server(facilitator, payTo);
    const lost = x402V1Server(facilitator, payTo);
    const flaky = x402V1Server(facilitator, payTo);
    let flakyPaid = 0;
    const ln = x402LightningServer(invoices);
    const alby = albyServer(invoices);
    const aperture = apertureServer(invoices);
    const lsat = apertureServer(invoices, "lsat-only");
    const unquoted = apertureServer(invoices, "macaroon-unquoted");
    const apps = {
      x402V2: v2,
      x402V1: v1,
      x402Lost: lost,
      x402Flaky: flaky,
      x402Ln: ln,
      alby,
      aperture,
      lsat,
      unquoted,
    };
    const urls: Record<string, string> = {};
    for (const [name, s] of Object.entries(apps)) {
      const srv = await serveOnLoopback(
        (r) => s.app.fetch(r),
        (req) => {
          if (req.headers["x-payment"] === undefined) return false;
          if (s === lost) return "before";
          return s === flaky && flakyPaid++ === 0 ? "after" : false;
        },
      );
      closers.push(srv.close);
      urls[name] = srv.url;
    }

    const control = new Hono();
    control.get("/state", (c) =>
      c.json({
        settlements: chain.settlements.map((s) => ({
          network: s.network,
          from: s.from,
          to: s.to,
          value: s.value.toString(),
          nonce: s.nonce,
          transaction: s.transaction,
        })),
        balances: {
          payer: chain.balanceOf("eip155:84532", payer).toString(),
          payTo: chain.balanceOf("eip155:84532", payTo).toString(),
        },
        stats: Object.fromEntries(Object.entries(apps).map(([k, v]) => [k, v.stats])),
        rateHits: rate.hits(),
        rpcCalls: rpc.calls(),
      } satisfies PaywallLabState),
    );
    control.post("/rpc", async (c) => {
      rpc.set((await c.req.json()) as { down: boolean });
      return c.json({ ok: true });
    });
    control.post("/rate", async (c) => {
      rate.set((await c.req.json()) as { usd: number; ageSeconds?: number; status?: number });
      return c.json({ ok: true });
    });
    const controlSrv = await serveOnLoopback((r) => control.fetch(r));
    closers.push(controlSrv.close);

    project.provide("paywallLab", {
      rate: rateSrv.url,
      control: controlSrv.url,
      x402V2: urls.x402V2!,
      x402V1: urls.x402V1!,
      x402Lost: urls.x402Lost!,
      x402Flaky: urls.x402Flaky!,
      x402Ln: urls.x402Ln!,
      alby: urls.alby!,
      aperture: urls.aperture!,
      lsat: urls.lsat!,
      unquoted: urls.unquoted!,
      payTo,
    });
    project.provide("paywallSatchelUrl", satchel.url);
    project.provide("paywallSatchelDevKey", satchel.devKey);
    project.provide("x402EvmKey", evmKey);
    return stopAll;
  } catch (e) {
    await stopAll();
    throw e;
  }
}
