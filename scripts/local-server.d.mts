/** Types for scripts/local-server.mjs (plain ESM so `npm run bench` needs no build). */
export interface LocalServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The development operator key this server (and only this server) accepts. */
  devKey: string;
  port: number;
  /** Temp directory holding D1 and Durable Object state; removed by stop(). */
  persistDir: string;
  /** The last lines wrangler printed. */
  output(): string;
  /** Kills wrangler and workerd (the whole process group) and removes the temp directory. */
  stop(): Promise<void>;
}

export interface LocalServerOptions {
  /** Port to listen on; a free loopback port when omitted. */
  port?: number;
  /** Upper bound for migrations + startup, in ms (default 120000). */
  timeoutMs?: number;
  /**
   * Serve a bundle of src/ made at start (default true), so edits during a run do not restart the
   * Worker; false serves src/ live with wrangler's watcher.
   */
  snapshot?: boolean;
  /** Receives wrangler's stdout lines as they arrive. */
  log?: (line: string) => void;
  /** Extra Worker vars for this server only, e.g. { WALLET_SECRET_KEY: "…" }. */
  vars?: Record<string, string>;
  /**
   * Keep wrangler dev's local trace collector (X_LOCAL_OBSERVABILITY) on. Off by default: it traces every
   * request, Durable Object call and storage operation in-process, a development-only cost.
   */
  traceCollector?: boolean;
}

export function startLocalServer(options?: LocalServerOptions): Promise<LocalServer>;
export function freePort(): Promise<number>;
