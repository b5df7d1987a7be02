import { DurableObject } from "cloudflare:workers";
import { ledgerStub } from "../ledger/client";
import { findInvoiceOwner } from "../store/invoices";
import { NwcClient, parseNwcUri, type NwcNotification } from "./nwc-client";
import { callClient, describeClient, type NwcCallResult, type NwcDescribeResult, type NwcTransport } from "./nwc";

/**
 * One operator's live NWC connection, named by the operator id. Holding the relay sockets in a
 * Durable Object lets every agent of the operator (and every Worker request) reuse one warm
 * connection: no relay handshake, info fetch or subscription per payment. It keeps no storage:
 * the URI comes with each call (the caller has just read it from D1), so a changed connection
 * replaces the client at once, and a restarted object simply reconnects.
 *
 * While connected it also hears the wallet's payment_received notifications and credits the agent
 * whose invoice was paid (the agent's ledger checks the wallet itself before crediting).
 */
export class NwcSession extends DurableObject<Env> {
  private client: NwcClient | null = null;
  private uri: string | null = null;

  private clientFor(uri: string): NwcClient {
    if (this.client && this.uri === uri) return this.client;
    this.client?.close();
    this.uri = uri;
    this.client = new NwcClient(parseNwcUri(uri), { onNotification: (n) => this.onNotification(n) });
    return this.client;
  }

  /** One NIP-47 request over the warm connection. */
  async call(uri: string, method: string, params: Record<string, unknown>, timeoutMs: number): Promise<NwcCallResult> {
    return callClient(this.clientFor(uri), method, params, timeoutMs);
  }

  async describe(uri: string): Promise<NwcDescribeResult> {
    return describeClient(this.clientFor(uri));
  }

  /** Drops the connection (the operator changed or removed the wallet). */
  async reset(): Promise<void> {
    this.client?.close();
    this.client = null;
    this.uri = null;
  }

  /** Relay sockets opened so far by the current client: stays flat while payments reuse the connection. */
  async stats(): Promise<{ connects: number; connected: boolean }> {
    return { connects: this.client?.connects ?? 0, connected: this.client?.connected ?? false };
  }

  private onNotification(n: NwcNotification): void {
    if (n.notification_type !== "payment_received") return;
    const hash = n.notification.payment_hash;
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/i.test(hash)) return;
    this.ctx.waitUntil(
      (async () => {
        try {
          const owner = await findInvoiceOwner(this.env.DB, hash.toLowerCase());
          if (!owner) return;
          // invoiceStatus asks the wallet again: a notification alone never credits anyone.
          await ledgerStub(this.env, owner.agent_id).invoiceStatus(hash.toLowerCase());
        } catch (e) {
          console.warn("NWC notification not applied", { error: e instanceof Error ? e.name : "unknown" });
        }
      })(),
    );
  }
}

/** NwcTransport over the operator's NwcSession object. */
export class SessionNwcTransport implements NwcTransport {
  constructor(
    private readonly stub: DurableObjectStub<NwcSession>,
    private readonly uri: string,
  ) {}

  async call(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<NwcCallResult> {
    try {
      return (await this.stub.call(this.uri, method, params, timeoutMs)) as NwcCallResult;
    } catch {
      // The session object broke mid-call (evicted, reset): the request may have left.
      return { ok: false, error: "timeout" };
    }
  }

  async describe(): Promise<NwcDescribeResult> {
    try {
      return (await this.stub.describe(this.uri)) as NwcDescribeResult;
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message.slice(0, 200) : "session unavailable" };
    }
  }
}
