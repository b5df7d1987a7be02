// Wiring for the paywall tests in the Workers runtime: counterpart servers are called in process
// through the paywall transport hook, by host name; an unknown host is a network error.
import { env } from "cloudflare:test";
import type { Hono } from "hono";
import { setTransportForTests } from "../../src/paywall/http";
import type { InvoiceSource } from "../support/paywalls";
import { fakeNetwork, MERCHANT } from "./helpers";

type Handler = (req: Request) => Response | Promise<Response>;

const hosts = new Map<string, Handler>();
/** Hosts whose next n requests fail on the network (after the server saw nothing). */
const failures = new Map<string, number>();

export function installTransport(): void {
  setTransportForTests(async (req) => {
    const host = new URL(req.url).host;
    const left = failures.get(host) ?? 0;
    if (left > 0) {
      failures.set(host, left - 1);
      throw new TypeError("Network connection lost.");
    }
    const h = hosts.get(host);
    if (!h) throw new TypeError(`getaddrinfo ENOTFOUND ${host}`);
    return h(req);
  });
}

export function serve(host: string, app: Hono | { fetch: (req: Request, env: Env) => Response | Promise<Response> }) {
  hosts.set(host, (req) => (app as { fetch: (r: Request, e: Env) => Response | Promise<Response> }).fetch(req, env));
}

/** The next n requests to host fail on the network. */
export function failNext(host: string, n: number): void {
  failures.set(host, n);
}

/** Invoices from the external merchant node of the fake network. */
export const merchantInvoices: InvoiceSource = {
  async make(sats, o = {}) {
    const made = await fakeNetwork().makeInvoice(MERCHANT, {
      amountMsat: sats * 1000,
      description: "paywall",
      expirySeconds: o.expirySeconds ?? 3600,
      network: "regtest",
      now: o.timestamp ?? Math.floor(Date.now() / 1000),
    });
    return { invoice: made.invoice, paymentHash: made.paymentHash };
  },
};
