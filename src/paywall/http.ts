// The only way Satchel talks to paid APIs: https only (plain http to loopback in development), the
// agent's allowed hosts checked before every request and redirect, a redirect limit, request and
// response size limits, and one deadline for the whole call.
import { SatchelError } from "../errors";

export interface HttpLimits {
  maxRedirects: number;
  maxRequestBytes: number;
  /** Bytes read from one response; a larger body is refused, not truncated. */
  maxResponseBytes: number;
  /** For everything one tool call does over the network: every request, redirect and body. */
  totalTimeoutMs: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  maxRedirects: 3,
  maxRequestBytes: 65_536,
  maxResponseBytes: 1_048_576,
  totalTimeoutMs: 20_000,
};

/** How requests leave the Worker. Tests swap it for in-process servers; nothing else should. */
export type Transport = (request: Request) => Promise<Response>;
const networkTransport: Transport = (request) => fetch(request);
let transport: Transport = networkTransport;

/** Test hook: routes paywall requests to in-process servers (null restores the network). */
export function setTransportForTests(t: Transport | null): void {
  transport = t ?? networkTransport;
}

/** A request outside an HttpSession (the rate source), through the same transport. */
export function paywallFetch(request: Request): Promise<Response> {
  return transport(request);
}

export interface FetchedResponse {
  url: URL;
  status: number;
  headers: Headers;
  body: Uint8Array;
}

export interface RequestSpec {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** Headers a caller may not set: Satchel owns credentials and framing. */
const RESERVED_HEADERS = new Set([
  "authorization",
  "host",
  "content-length",
  "connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "x-payment",
  "payment-signature",
]);
/** Dropped when a redirect leaves the origin, so a credential never reaches another server. */
const CREDENTIAL_HEADERS = ["authorization", "x-payment", "payment-signature", "cookie"];

export function isReservedHeader(name: string): boolean {
  return RESERVED_HEADERS.has(name.toLowerCase());
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Parses a URL a paid call may go to: https, or http to loopback in development. */
export function checkUrl(raw: string | URL, development: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SatchelError("INVALID_INPUT", "Not a valid URL.", { hint: "Pass an absolute https:// URL." });
  }
  if (url.username || url.password) {
    throw new SatchelError("INVALID_INPUT", "URLs with credentials are not accepted.", {
      hint: "Remove user:password@ from the URL.",
    });
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && development && isLoopback(url.hostname)) return url;
  throw new SatchelError("INVALID_INPUT", `Only https URLs can be paid (got ${url.protocol}).`, {
    hint: development ? "Plain http is allowed only to loopback addresses." : "Use the https:// URL of the API.",
  });
}

function upstream(message: string, hint: string, details?: Record<string, unknown>): SatchelError {
  return new SatchelError("UPSTREAM_ERROR", message, { hint, ...(details ? { details } : {}) });
}

/**
 * One tool call's worth of requests, sharing a deadline. allowHost runs before every request,
 * redirects included.
 */
export class HttpSession {
  private readonly abort = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly aborted: Promise<never>;

  constructor(
    readonly limits: HttpLimits,
    private readonly development: boolean,
    private readonly allowHost: (host: string) => void,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.abort.signal.addEventListener("abort", () =>
        reject(
          upstream(
            `The API did not answer within ${Math.round(limits.totalTimeoutMs / 1000)} s.`,
            "Try again later; nothing more was paid.",
            { reason: "timeout" },
          ),
        ),
      );
    });
    this.aborted.catch(() => {});
    this.timer = setTimeout(() => this.abort.abort(), limits.totalTimeoutMs);
  }

  /** Ends the deadline; call when the tool call is done. */
  close(): void {
    clearTimeout(this.timer);
  }

  private race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.aborted]);
  }

  /** Sends a request, following redirects within the limits, and reads the body within the size limit. */
  async send(start: URL, spec: RequestSpec): Promise<FetchedResponse> {
    if (spec.body !== undefined && new TextEncoder().encode(spec.body).length > this.limits.maxRequestBytes) {
      throw new SatchelError("INVALID_INPUT", `The request body is over ${this.limits.maxRequestBytes} bytes.`);
    }
    let url = start;
    let method = spec.method;
    let body = spec.body;
    const headers = new Headers(spec.headers);
    for (let hop = 0; ; hop++) {
      this.allowHost(url.host);
      let res: Response;
      try {
        res = await this.race(
          transport(
            new Request(url, {
              method,
              headers,
              ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}),
              redirect: "manual",
              signal: this.abort.signal,
            }),
          ),
        );
      } catch (e) {
        if (e instanceof SatchelError) throw e;
        throw upstream(`Could not reach ${url.host}.`, "Check the URL; try again later. Nothing more was paid.", {
          reason: "network",
        });
      }
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && location) {
        await res.body?.cancel().catch(() => {});
        if (hop >= this.limits.maxRedirects) {
          throw upstream(`More than ${this.limits.maxRedirects} redirects.`, "The API redirects in a loop.", {
            reason: "redirects",
          });
        }
        const next = checkUrl(new URL(location, url), this.development);
        if (next.origin !== url.origin) for (const h of CREDENTIAL_HEADERS) headers.delete(h);
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
          headers.delete("content-type");
        }
        url = next;
        continue;
      }
      return { url, status: res.status, headers: res.headers, body: await this.read(res) };
    }
  }

  private async read(res: Response): Promise<Uint8Array> {
    const declared = Number(res.headers.get("content-length") ?? "NaN");
    const tooLarge = () =>
      upstream(
        `The response is larger than ${this.limits.maxResponseBytes} bytes.`,
        "Satchel does not read responses that large.",
        { reason: "too_large", limit_bytes: this.limits.maxResponseBytes },
      );
    if (Number.isFinite(declared) && declared > this.limits.maxResponseBytes) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    if (!res.body) return new Uint8Array();
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await this.race(reader.read());
        if (done) break;
        size += value.byteLength;
        if (size > this.limits.maxResponseBytes) throw tooLarge();
        chunks.push(value);
      }
    } catch (e) {
      await reader.cancel().catch(() => {});
      if (e instanceof SatchelError) throw e;
      throw upstream("The response broke off.", "Try again later; nothing more was paid.", { reason: "network" });
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
