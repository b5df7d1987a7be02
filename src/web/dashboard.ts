/**
 * The operator's dashboard: `/` and the pages below it, for a signed-in browser session only.
 *
 * Every page is server-rendered with `html` (escaping) and strict security headers; every POST
 * carries the session's CSRF token and is refused with 403 without it. Every route acts only on
 * the session's operator: domain functions treat another operator's agent as not found, and grants
 * and keys are looked up in the operator's own lists before anything is changed.
 *
 * Routes:
 *   GET  /                          agents overview: wallet figures, agents table, create form
 *   POST /agents                    create an agent (its key is shown once)
 *   GET  /agents/:id                one agent: kill switch, chart, limits, fund, sweep, key, delete
 *   POST /agents/:id/budget         set limits
 *   POST /agents/:id/fund           allocate sats
 *   POST /agents/:id/sweep          return sats to the wallet
 *   POST /agents/:id/deactivate     kill switch
 *   POST /agents/:id/reactivate
 *   POST /agents/:id/delete         needs confirm=yes
 *   POST /agents/:id/rotate-key     new agent key (shown once)
 *   GET  /transactions              journal with filters
 *   GET  /transactions.csv|.json    downloads (attachment)
 *   GET  /clients                   OAuth grants
 *   POST /clients/:grantId/revoke
 *   GET  /keys                      API keys
 *   POST /keys/operator             new operator key (shown once)
 *   POST /keys/:keyId/rotate        replace an operator key (shown once)
 *   GET  /wallet                    wallet connection
 *   POST /wallet                    connect (fake | nwc | lnbits), secret sealed at rest
 *   POST /wallet/test               test the connection (fake wallet only, for now)
 *
 * No wildcard middleware: this app is mounted at "/" next to sign-in and consent, and a `use("*")`
 * here would run for their routes too.
 */
import { Hono, type Context } from "hono";
import * as agents from "../accounts/agents";
import { agentDirectory, agentWithSnapshot, dailySpendingByAgent, emptySeries } from "../accounts/dashboard-queries";
import * as ops from "../accounts/operator";
import { oauthHelpers, revokeClientGrant } from "../auth/oauth";
import { getSession, verifyCsrf, type WebSession } from "../auth/session";
import { getConfig } from "../config";
import { SatchelError } from "../errors";
import * as accounts from "../store/accounts";
import type { WalletBackend, WalletInfo } from "../wallet/backend";
import {
  getWalletConnection,
  readWalletSecret,
  validateWalletConnection,
  walletKeyStatus,
  type WalletConnectionInput,
  type WalletSecret,
} from "../wallet/connection";
import { assess, connectWallet, type ConnectedWallet } from "../wallet/connect";
import { walletFor } from "../wallet/factory";
import { clientsBody, keysBody, walletBody, type ClientRow, type WalletData } from "./dashboard-account";
import {
  agentBody,
  COPY_SCRIPT,
  newKeyBody,
  overviewBody,
  walletLabel,
  walletNoun,
  type AgentData,
  type LimitValues,
  type OverviewData,
} from "./dashboard-agents";
import { AGENT_ID, field, KEY_ID, limitsFromForm, nameField, satsField, type FormBody } from "./dashboard-forms";
import { dashboardPage, formatInt, type Tab } from "./dashboard-layout";
import { PAGE_SIZE, parseFilters, rangeOf, transactionsBody } from "./dashboard-transactions";
import { html, type SafeHtml } from "./html";

type C = Context<{ Bindings: Env }>;

export const dashboard = new Hono<{ Bindings: Env }>();

const CHART_DAYS = 30;
const AGENTS_SHOWN = 100;
const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Fixed messages for ?ok=…, so nothing from the URL is ever shown. */
const NOTICES: Record<string, string> = {
  limits: "Limits saved. They apply to the agent's next payment.",
  funded: "Agent funded.",
  swept: "Sats swept back to your wallet.",
  deactivated: "Agent deactivated: its payments are refused and its key no longer works.",
  reactivated: "Agent reactivated.",
  deleted: "Agent deleted. Its available balance returned to your wallet.",
  revoked: "Client disconnected. Its tokens no longer work.",
  wallet: "Wallet connected. It answered the test below, and its secret is stored encrypted.",
  fake: "Using the built-in fake wallet.",
};

// ── plumbing ────────────────────────────────────────────────────────────────────────────────────

interface Shell {
  title: string;
  tab: Tab;
  body: SafeHtml;
  status?: number;
  error?: string | undefined;
  /** A notice for this response; otherwise the fixed one ?ok= names on a GET. */
  notice?: string | undefined;
  script?: string;
}

async function render(c: C, session: WebSession, p: Shell): Promise<Response> {
  const operator = await accounts.getOperator(c.env.DB, session.operatorId);
  const notice = p.notice ?? NOTICES[c.req.method === "GET" ? (c.req.query("ok") ?? "") : ""];
  return dashboardPage({
    ...p,
    session,
    operatorName: operator?.name ?? session.operatorId,
    notice,
    error: p.error,
  });
}

/** A GET page: the session's operator, or off to sign in (and back here afterwards). */
function view(handler: (c: C, s: WebSession) => Promise<Response>) {
  return async (c: C): Promise<Response> => {
    const session = await getSession(c.req.raw, c.env);
    if (!session) {
      const url = new URL(c.req.url);
      const next = url.pathname + url.search;
      return c.redirect(next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`, 302);
    }
    return handler(c, session);
  };
}

/** A form POST: signed in, and carrying this session's CSRF token (403 otherwise, before anything runs). */
function action(handler: (c: C, s: WebSession, body: FormBody) => Promise<Response>) {
  return async (c: C): Promise<Response> => {
    const session = await getSession(c.req.raw, c.env);
    if (!session) return c.redirect("/sign-in", 303);
    const body = (await c.req.parseBody().catch(() => ({}))) as FormBody;
    if (!verifyCsrf(session, body.csrf)) {
      return render(c, session, {
        title: "Forbidden",
        tab: "overview",
        status: 403,
        error: "This form expired or did not come from this site. Go back, reload the page and try again.",
        body: html`<div class="card"><a href="/">Back to the dashboard</a></div>`,
      });
    }
    return handler(c, session, body);
  };
}

const see = (c: C, to: string) => c.redirect(to, 303);

function statusOf(e: SatchelError): number {
  if (e.code === "NOT_FOUND") return 404;
  if (e.code === "FORBIDDEN") return 403;
  if (e.code === "WALLET_NOT_CONFIGURED") return 503;
  if (e.code === "INTERNAL") return 500;
  return 400;
}

/** The message of a coded failure for the page; anything else propagates to the app's onError. */
function expected(e: unknown): SatchelError {
  if (e instanceof SatchelError) return e;
  throw e;
}

function errorText(e: SatchelError): string {
  return e.hint ? `${e.message} ${e.hint}` : e.message;
}

function notFound(c: C, session: WebSession, what = "No such agent."): Promise<Response> {
  return render(c, session, {
    title: "Not found",
    tab: "overview",
    status: 404,
    error: what,
    body: html`<div class="card"><a href="/">Back to the dashboard</a></div>`,
  });
}

/** The :id of an agent route, or null when it cannot be an agent id. */
function agentParam(c: C): string | null {
  const id = c.req.param("id") ?? "";
  return AGENT_ID.test(id) ? id : null;
}

function showKey(
  c: C,
  session: WebSession,
  p: { heading: string; key: string; backHref: string; backLabel: string; warning?: string },
): Promise<Response> {
  return render(c, session, {
    title: p.heading,
    tab: p.backHref === "/keys" ? "keys" : "overview",
    body: newKeyBody({ ...p, origin: new URL(c.req.url).origin }),
    script: COPY_SCRIPT,
  });
}

// ── agents ──────────────────────────────────────────────────────────────────────────────────────

async function overviewPage(
  c: C,
  session: WebSession,
  extra: { status?: number; error?: string; createValues?: OverviewData["createValues"] } = {},
): Promise<Response> {
  const opId = session.operatorId;
  const [overview, wallet, rows, spending] = await Promise.all([
    // An unreachable wallet must not take the agents table down with it.
    ops.overview(c.env, opId).catch((e: unknown) => {
      if (!(e instanceof SatchelError)) console.error(`dashboard overview: ${e instanceof Error ? e.name : "error"}`);
      return null;
    }),
    getWalletConnection(c.env, opId),
    agents.listAgents(c.env, opId, { limit: AGENTS_SHOWN + 1, offset: 0 }),
    dailySpendingByAgent(c.env, opId, CHART_DAYS),
  ]);
  const shown = rows.slice(0, AGENTS_SHOWN);
  return render(c, session, {
    title: "Agents",
    tab: "overview",
    status: extra.status ?? 200,
    error: extra.error,
    body: overviewBody({
      session,
      overview,
      wallet,
      more: rows.length > AGENTS_SHOWN,
      agents: shown.map((r) => ({ ...r, series: spending.get(r.record.id) ?? emptySeries(CHART_DAYS) })),
      ...(extra.createValues ? { createValues: extra.createValues } : {}),
    }),
  });
}

async function agentPage(
  c: C,
  session: WebSession,
  agentId: string,
  extra: { status?: number; error?: string; limitValues?: LimitValues } = {},
): Promise<Response> {
  const opId = session.operatorId;
  let detail: Awaited<ReturnType<typeof agentWithSnapshot>>;
  try {
    detail = await agentWithSnapshot(c.env, opId, agentId);
  } catch (e) {
    if (expected(e).code === "NOT_FOUND") return notFound(c, session);
    throw e;
  }
  const [series, recent, keys] = await Promise.all([
    ops.spendingSeries(c.env, opId, agentId, CHART_DAYS),
    ops.listJournal(c.env, { operatorId: opId, agentId, limit: 10, offset: 0 }),
    accounts.listKeys(c.env.DB, opId),
  ]);
  const live = keys.find((k) => k.agent_id === agentId && k.revoked_at === null);
  const data: AgentData = {
    session,
    ...detail,
    series,
    recent,
    keyPrefix: live?.key_prefix ?? null,
    ...(extra.limitValues ? { limitValues: extra.limitValues } : {}),
  };
  return render(c, session, {
    title: detail.record.name,
    tab: "overview",
    status: extra.status ?? 200,
    error: extra.error,
    body: agentBody(data),
  });
}

dashboard.get(
  "/",
  view((c, s) => overviewPage(c, s)),
);

dashboard.post(
  "/agents",
  action(async (c, s, body) => {
    const limitFields: LimitValues = {
      max_per_payment_sats: field(body, "max_per_payment_sats"),
      daily_limit_sats: field(body, "daily_limit_sats"),
      budget_limit_sats: field(body, "budget_limit_sats"),
      per_session_limit_sats: field(body, "per_session_limit_sats"),
      allowed_hosts: field(body, "allowed_hosts"),
    };
    let name: string;
    let initialSats: number;
    let policy: ReturnType<typeof limitsFromForm>;
    try {
      name = nameField(body);
      policy = limitsFromForm(body);
      initialSats = satsField(body, "initial_balance_sats", "Initial balance", { required: false, min: 0 }) ?? 0;
    } catch (e) {
      const err = expected(e);
      return overviewPage(c, s, {
        status: 400,
        error: errorText(err),
        createValues: {
          ...limitFields,
          name: field(body, "name").slice(0, 100),
          initial_balance_sats: field(body, "initial_balance_sats"),
        },
      });
    }
    const created = await agents.createAgent(c.env, s.operatorId, { name, policy });
    let warning: string | undefined;
    if (initialSats > 0) {
      try {
        await ops.fundAgent(c.env, s.operatorId, created.agentId, initialSats * 1000);
      } catch (e) {
        warning = `The agent was created but not funded: ${errorText(expected(e))}`;
      }
    }
    return showKey(c, s, {
      heading: `Agent “${name}” created`,
      key: created.apiKey,
      backHref: `/agents/${created.agentId}`,
      backLabel: "Go to the agent",
      ...(warning ? { warning } : {}),
    });
  }),
);

dashboard.get(
  "/agents/:id",
  view(async (c, s) => {
    const id = agentParam(c);
    return id ? agentPage(c, s, id) : notFound(c, s);
  }),
);

/** An agent action: the :id checked, coded failures shown on the agent's page with the right status. */
function agentAction(run: (c: C, s: WebSession, agentId: string, body: FormBody) => Promise<Response>) {
  return action(async (c, s, body) => {
    const id = agentParam(c);
    if (!id) return notFound(c, s);
    try {
      return await run(c, s, id, body);
    } catch (e) {
      const err = expected(e);
      if (err.code === "NOT_FOUND") return notFound(c, s);
      return agentPage(c, s, id, { status: statusOf(err), error: errorText(err) });
    }
  });
}

dashboard.post(
  "/agents/:id/budget",
  action(async (c, s, body) => {
    const id = agentParam(c);
    if (!id) return notFound(c, s);
    try {
      await ops.requireAgent(c.env, s.operatorId, id);
      await agents.setBudget(c.env, id, limitsFromForm(body));
      return see(c, `/agents/${id}?ok=limits`);
    } catch (e) {
      const err = expected(e);
      if (err.code === "NOT_FOUND") return notFound(c, s);
      const typed = Object.fromEntries(
        [
          "max_per_payment_sats",
          "daily_limit_sats",
          "budget_limit_sats",
          "per_session_limit_sats",
          "allowed_hosts",
        ].map((k) => [k, field(body, k)]),
      ) as LimitValues;
      return agentPage(c, s, id, { status: statusOf(err), error: errorText(err), limitValues: typed });
    }
  }),
);

dashboard.post(
  "/agents/:id/fund",
  agentAction(async (c, s, id, body) => {
    const sats = satsField(body, "amount_sats", "Amount", { required: true, min: 1 })!;
    await ops.fundAgent(c.env, s.operatorId, id, sats * 1000);
    return see(c, `/agents/${id}?ok=funded`);
  }),
);

dashboard.post(
  "/agents/:id/sweep",
  agentAction(async (c, s, id, body) => {
    const sats = satsField(body, "amount_sats", "Amount", { required: false, min: 1 });
    await ops.sweepAgent(c.env, s.operatorId, id, sats === null ? null : sats * 1000);
    return see(c, `/agents/${id}?ok=swept`);
  }),
);

for (const [path, active] of [
  ["deactivate", false],
  ["reactivate", true],
] as const) {
  dashboard.post(
    `/agents/:id/${path}`,
    agentAction(async (c, s, id, body) => {
      await ops.setActive(c.env, s.operatorId, id, active);
      const done = active ? "reactivated" : "deactivated";
      return see(c, field(body, "back") === "overview" ? `/?ok=${done}` : `/agents/${id}?ok=${done}`);
    }),
  );
}

dashboard.post(
  "/agents/:id/delete",
  agentAction(async (c, s, id, body) => {
    if (field(body, "confirm") !== "yes") {
      await ops.requireAgent(c.env, s.operatorId, id);
      return agentPage(c, s, id, { status: 400, error: "Tick the confirmation box to delete this agent." });
    }
    await ops.deleteAgent(c.env, s.operatorId, id);
    return see(c, "/?ok=deleted");
  }),
);

dashboard.post(
  "/agents/:id/rotate-key",
  agentAction(async (c, s, id) => {
    const { record } = await agentWithSnapshot(c.env, s.operatorId, id);
    const key = await ops.rotateAgentKey(c.env, s.operatorId, id);
    return showKey(c, s, {
      heading: `New key for “${record.name}”`,
      key,
      backHref: `/agents/${id}`,
      backLabel: "Back to the agent",
    });
  }),
);

// ── transactions ────────────────────────────────────────────────────────────────────────────────

dashboard.get(
  "/transactions",
  view(async (c, s) => {
    const directory = await agentDirectory(c.env, s.operatorId);
    const f = parseFilters((n) => c.req.query(n));
    // Only this operator's agents filter (deleted ones too): any other id is dropped, never echoed.
    if (f.agent && !directory.has(f.agent)) delete f.agent;
    const rows = await ops.listJournal(c.env, {
      operatorId: s.operatorId,
      ...(f.agent ? { agentId: f.agent } : {}),
      ...(f.direction ? { direction: f.direction } : {}),
      ...(f.status ? { status: f.status } : {}),
      ...rangeOf(f),
      limit: PAGE_SIZE + 1,
      offset: f.offset,
    });
    return render(c, s, {
      title: "Transactions",
      tab: "transactions",
      body: transactionsBody({
        session: s,
        filters: f,
        rows: rows.slice(0, PAGE_SIZE),
        more: rows.length > PAGE_SIZE,
        agents: [...directory].map(([id, a]) => ({
          id,
          name: a.status === "deleted" ? `${a.name} (deleted)` : a.name,
        })),
        names: new Map([...directory].map(([id, a]) => [id, a.name])),
      }),
    });
  }),
);

for (const format of ["csv", "json"] as const) {
  dashboard.get(
    `/transactions.${format}`,
    view(async (c, s) => {
      const f = parseFilters((n) => c.req.query(n));
      let out: ops.ExportResult;
      try {
        out = await ops.exportTransactions(c.env, s.operatorId, {
          format,
          ...(f.agent ? { agentId: f.agent } : {}),
          ...rangeOf(f),
        });
      } catch (e) {
        if (expected(e).code === "NOT_FOUND") return notFound(c, s);
        throw e;
      }
      const stamp = new Date().toISOString().slice(0, 10);
      return new Response(out.body, {
        headers: {
          "content-type": out.contentType,
          "content-disposition": `attachment; filename="satchel-transactions-${stamp}.${format}"`,
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
          "content-security-policy": "default-src 'none'; sandbox",
          "x-satchel-rows": String(out.rows),
          "x-satchel-truncated": String(out.truncated),
        },
      });
    }),
  );
}

// ── connected clients (OAuth grants) ────────────────────────────────────────────────────────────

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The operator's grants (the operator id is the OAuth userId), or null where OAuth cannot run. */
async function grantsOf(c: C, operatorId: string): Promise<ClientRow[] | null> {
  const helpers = oauthHelpers(c.env, new URL(c.req.url).origin);
  if (!helpers) return null;
  const rows: ClientRow[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const r = await helpers.listUserGrants(operatorId, { limit: 100, ...(cursor ? { cursor } : {}) });
    for (const g of r.items) {
      const m = (g.metadata ?? {}) as Record<string, unknown>;
      rows.push({
        grantId: g.id,
        clientName: str(m.client_name) ?? g.clientId,
        redirectHost: str(m.redirect_host) ?? "",
        agentId: str(m.agent_id),
        agentName: str(m.agent_name),
        connectionCapSats: typeof m.connection_cap_sats === "number" ? m.connection_cap_sats : null,
        createdAt: g.createdAt * 1000,
        expiresAt: g.expiresAt ? g.expiresAt * 1000 : null,
      });
    }
    cursor = r.cursor;
    if (!cursor) break;
  }
  return rows.sort((a, b) => b.createdAt - a.createdAt);
}

dashboard.get(
  "/clients",
  view(async (c, s) =>
    render(c, s, {
      title: "Connected clients",
      tab: "clients",
      body: clientsBody({ session: s, clients: await grantsOf(c, s.operatorId) }),
    }),
  ),
);

dashboard.post(
  "/clients/:grantId/revoke",
  action(async (c, s) => {
    const grantId = c.req.param("grantId") ?? "";
    const grants = GRANT_ID.test(grantId) ? await grantsOf(c, s.operatorId) : null;
    // Only a grant in this operator's own list: a grant id of someone else is simply not found.
    if (!grants?.some((g) => g.grantId === grantId)) return notFound(c, s, "No such connected client.");
    await revokeClientGrant(c.env, new URL(c.req.url).origin, grantId, s.operatorId);
    return see(c, "/clients?ok=revoked");
  }),
);

// ── API keys ────────────────────────────────────────────────────────────────────────────────────

dashboard.get(
  "/keys",
  view(async (c, s) => {
    const [keys, directory] = await Promise.all([
      accounts.listKeys(c.env.DB, s.operatorId),
      agentDirectory(c.env, s.operatorId),
    ]);
    return render(c, s, {
      title: "API keys",
      tab: "keys",
      body: keysBody({
        session: s,
        keys: keys.slice(0, 500),
        agents: directory,
        development: getConfig(c.env).development,
      }),
    });
  }),
);

dashboard.post(
  "/keys/operator",
  action(async (c, s) => {
    // A browser session has no key of its own to revoke: like an OAuth operator, it only issues one.
    const key = await ops.rotateOperatorKey(c.env, {
      kind: "operator",
      operatorId: s.operatorId,
      keyId: "session",
      via: "oauth",
    });
    return showKey(c, s, { heading: "New operator key", key, backHref: "/keys", backLabel: "Back to API keys" });
  }),
);

dashboard.post(
  "/keys/:keyId/rotate",
  action(async (c, s) => {
    const keyId = c.req.param("keyId") ?? "";
    const keys = KEY_ID.test(keyId) ? await accounts.listKeys(c.env.DB, s.operatorId) : [];
    // revokeKey is not scoped to an operator: only a live operator key from this operator's own list.
    const k = keys.find((x) => x.id === keyId && x.agent_id === null && x.revoked_at === null);
    if (!k) return notFound(c, s, "No such operator key.");
    const key = await ops.rotateOperatorKey(c.env, {
      kind: "operator",
      operatorId: s.operatorId,
      keyId: k.id,
      via: "api_key",
    });
    return showKey(c, s, {
      heading: "Operator key rotated",
      key,
      backHref: "/keys",
      backLabel: "Back to API keys",
      warning: `The key ${k.key_prefix}… no longer works.`,
    });
  }),
);

// ── wallet ──────────────────────────────────────────────────────────────────────────────────────

async function walletPage(
  c: C,
  s: WebSession,
  extra: { status?: number; error?: string; notice?: string | undefined; test?: WalletData["test"] } = {},
): Promise<Response> {
  const wallet = await getWalletConnection(c.env, s.operatorId);
  return render(c, s, {
    title: "Wallet",
    tab: "wallet",
    status: extra.status ?? 200,
    error: extra.error,
    notice: extra.notice,
    body: walletBody({ session: s, wallet, keyStatus: walletKeyStatus(c.env), test: extra.test }),
  });
}

dashboard.get(
  "/wallet",
  view((c, s) => walletPage(c, s)),
);

/** Replaces any part of a wallet secret in a message (a backend's error text) with "[redacted]". */
function scrub(secret: WalletSecret | null, message: string): string {
  if (!secret) return message;
  const parts =
    secret.type === "lnbits"
      ? [secret.apiKey]
      : [secret.uri, ...new URLSearchParams(secret.uri.split("?")[1] ?? "").getAll("secret")];
  return parts.filter((p) => p.length >= 8).reduce((m, p) => m.split(p).join("[redacted]"), message);
}

/** The sentence a successful wallet test shows: who answered, with what balance, and any cautions. */
function answered(info: WalletInfo, balanceMsat: number, warnings: string[]): string {
  const answer = `“${info.alias}” on ${info.network}, balance ${formatInt(Math.floor(balanceMsat / 1000))} sats.`;
  return [`The ${walletNoun(info.kind)} answered: ${answer}`, ...warnings].join(" ");
}

/** Asks the wallet payments use for its info and balance: "test it" on demand. */
async function probe(
  env: Env,
  backend: WalletBackend,
  secret: WalletSecret | null,
): Promise<{ ok: true; info: WalletInfo; message: string } | { ok: false; message: string }> {
  try {
    const [info, balance] = await Promise.all([backend.getInfo(), backend.getBalance()]);
    return { ok: true, info, message: answered(info, balance, assess(env, info).warnings) };
  } catch (e) {
    // Coded errors are written for people; anything else could carry upstream text.
    return { ok: false, message: e instanceof SatchelError ? scrub(secret, e.message) : "no answer." };
  }
}

dashboard.post(
  "/wallet",
  action(async (c, s, body) => {
    const type = field(body, "type");
    let input: WalletConnectionInput;
    if (type === "nwc") input = { type, uri: field(body, "nwc_uri") };
    else if (type === "lnbits") input = { type, url: field(body, "lnbits_url"), apiKey: field(body, "lnbits_key") };
    else if (type === "fake") input = { type };
    else return walletPage(c, s, { status: 400, error: "Choose a wallet type." });
    // Messages never contain what was typed (connection.ts), and the form is never refilled.
    let secret: WalletSecret | null;
    try {
      secret = validateWalletConnection(input);
      if (secret && walletKeyStatus(c.env) !== "ok") {
        throw new SatchelError("WALLET_NOT_CONFIGURED", "This server cannot store wallet secrets (WALLET_SECRET_KEY).");
      }
    } catch (e) {
      const err = expected(e);
      return walletPage(c, s, { status: statusOf(err), error: errorText(err) });
    }
    // Tested before it is stored (the same domain call as connect_wallet): a wallet that cannot
    // answer never replaces one that works.
    let connected: ConnectedWallet;
    try {
      connected = await connectWallet(c.env, s.operatorId, input);
    } catch (e) {
      const err = expected(e);
      return walletPage(c, s, {
        status: 400,
        error: `The ${walletNoun(type)} did not pass the test, so nothing was saved: ${scrub(secret, err.message)}`,
      });
    }
    const tested = { ok: true as const, message: answered(connected.info, connected.balanceMsat, connected.warnings) };
    return walletPage(c, s, {
      notice: type === "fake" ? NOTICES.fake : NOTICES.wallet,
      test: tested,
    });
  }),
);

dashboard.post(
  "/wallet/test",
  action(async (c, s) => {
    const conn = await getWalletConnection(c.env, s.operatorId);
    const secret = await readWalletSecret(c.env, s.operatorId).catch(() => null);
    const tested = await probe(c.env, walletFor(c.env, s.operatorId), secret);
    let test: WalletData["test"];
    if (!tested.ok) test = { ok: false, message: `The ${walletNoun(conn.type)} did not answer: ${tested.message}` };
    else if (tested.info.kind !== conn.type) {
      test = {
        ok: false,
        message: `This server cannot use ${walletLabel(conn.type)} connections, so payments go through another wallet. ${tested.message}`,
      };
    } else test = { ok: true, message: tested.message };
    return walletPage(c, s, { test });
  }),
);
