/**
 * The dashboard's page shell: a wider layout than the sign-in pages, a tab bar, notices, and the
 * small formatting helpers every dashboard page shares. All markup goes through `html`.
 */
import type { WebSession } from "../auth/session";
import { html, SafeHtml, securityHeaders } from "./html";
import { newNonce } from "./layout";

export type Tab = "overview" | "transactions" | "clients" | "keys" | "wallet";

const TABS: { id: Tab; href: string; label: string }[] = [
  { id: "overview", href: "/", label: "Agents" },
  { id: "transactions", href: "/transactions", label: "Transactions" },
  { id: "clients", href: "/clients", label: "Connected clients" },
  { id: "keys", href: "/keys", label: "API keys" },
  { id: "wallet", href: "/wallet", label: "Wallet" },
];

export interface DashboardPage {
  title: string;
  tab: Tab;
  session: WebSession;
  operatorName: string;
  body: SafeHtml;
  notice?: string | undefined;
  error?: string | undefined;
  status?: number;
  /** Trusted script text written in this codebase (never user data); runs under the page's nonce. */
  script?: string;
}

const STYLE = `
:root { --fg:#17181c; --muted:#6b6f7b; --line:#e4e5ea; --bg:#f5f6f8; --card:#fff; --accent:#f7931a; --accent-dark:#c26d00;
  --accent-soft:#fff4e5; --danger:#b3261e; --danger-soft:#fdecea; --ok:#1e7b34; --ok-soft:#e7f5ea; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent-dark); }
header.top { background:var(--card); border-bottom:1px solid var(--line); }
header.top .bar { max-width:1180px; margin:0 auto; padding:12px 24px; display:flex; align-items:center; gap:24px; }
header.top .brand { font-weight:700; font-size:18px; color:var(--fg); text-decoration:none; white-space:nowrap; }
header.top .brand span { color:var(--accent); }
header.top .who { margin-left:auto; display:flex; align-items:center; gap:14px; color:var(--muted); font-size:13px; }
header.top .who form { margin:0; }
nav.tabs { max-width:1180px; margin:0 auto; padding:0 24px; display:flex; gap:4px; overflow-x:auto; }
nav.tabs a { padding:10px 14px; color:var(--muted); text-decoration:none; border-bottom:2px solid transparent; font-weight:500; white-space:nowrap; }
nav.tabs a:hover { color:var(--fg); }
nav.tabs a.active { color:var(--fg); border-bottom-color:var(--accent); }
main { max-width:1180px; margin:24px auto 48px; padding:0 24px; }
h1 { font-size:22px; margin:0; }
h2 { font-size:16px; margin:0 0 12px; }
h3 { font-size:14px; margin:0 0 8px; }
.page-head { display:flex; align-items:center; justify-content:space-between; gap:16px; margin-bottom:18px; flex-wrap:wrap; }
.page-head .sub { color:var(--muted); font-size:13px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:20px; margin-bottom:18px; }
.card.flush { padding:0; overflow:hidden; }
.card.flush > h2, .card.flush > .card-head { padding:16px 20px 0; }
.card-head { display:flex; align-items:center; justify-content:space-between; gap:12px; margin-bottom:12px; }
.card-head h2 { margin:0; }
.stats { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:14px; margin-bottom:18px; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:14px 16px; }
.stat .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.stat .v { font-size:22px; font-weight:650; margin-top:2px; font-variant-numeric:tabular-nums; }
.stat .v small { font-size:13px; color:var(--muted); font-weight:500; }
.cols { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
@media (max-width:860px) { .cols { grid-template-columns:1fr; } }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:9px 12px; border-bottom:1px solid var(--line); vertical-align:middle; }
th { font-size:12px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.03em; background:#fafafb; }
tr:last-child td { border-bottom:none; }
td.num, th.num { text-align:right; white-space:nowrap; }
td.actions { white-space:nowrap; text-align:right; }
td.actions form { display:inline-block; vertical-align:middle; margin:0 0 0 6px; }
td.actions .button { vertical-align:middle; }
td.nowrap { white-space:nowrap; }
.table-wrap { overflow-x:auto; }
.mono { font-family:var(--mono); font-size:12px; }
.muted { color:var(--muted); }
.small { font-size:12px; }
.memo { max-width:280px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.badge { display:inline-block; padding:2px 8px; border-radius:999px; font-size:12px; font-weight:600; background:#eef0f3; color:#444; white-space:nowrap; }
.badge.ok { background:var(--ok-soft); color:var(--ok); }
.badge.bad { background:var(--danger-soft); color:var(--danger); }
.badge.warn { background:var(--accent-soft); color:var(--accent-dark); }
label { display:block; font-weight:600; margin:10px 0 4px; font-size:13px; }
label.check { display:flex; gap:8px; align-items:center; font-weight:400; }
input[type=text], input[type=number], input[type=password], input[type=date], input[type=url], textarea, select {
  width:100%; padding:8px 10px; border:1px solid #d4d6dd; border-radius:8px; font:inherit; background:#fff; color:var(--fg); }
input[type=text], input[type=number], input[type=password], input[type=date], input[type=url], select { height:38px; }
input:focus, textarea:focus, select:focus { outline:2px solid #f7931a55; border-color:var(--accent); }
textarea { min-height:56px; resize:vertical; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:0 14px; }
.grid3 { display:grid; grid-template-columns:repeat(3, 1fr); gap:0 14px; }
.filters { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:0 12px; align-items:end; }
.filters .row { padding-bottom:0; }
.hint { font-size:12px; color:var(--muted); margin-top:3px; }
button, .button { display:inline-block; padding:8px 14px; border-radius:8px; border:1px solid var(--accent-dark); background:var(--accent); color:#fff;
  font:inherit; font-weight:600; cursor:pointer; text-decoration:none; line-height:1.3; }
button:hover, .button:hover { filter:brightness(.96); }
button.secondary, .button.secondary { background:#fff; color:var(--fg); border-color:#d4d6dd; }
button.danger, .button.danger { background:var(--danger); border-color:#8c1d17; color:#fff; }
button.danger-outline { background:#fff; color:var(--danger); border-color:var(--danger); }
button.small, .button.small { padding:4px 10px; font-size:12px; }
button.link { background:none; border:none; color:var(--muted); padding:0; font-weight:400; text-decoration:underline; }
.row { display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
.row input[type=number], .row input[type=text] { flex:1; width:auto; min-width:140px; }
.actions { display:flex; gap:10px; margin-top:14px; flex-wrap:wrap; align-items:center; }
.notice, .error, .warning { padding:10px 14px; border-radius:10px; margin:0 0 16px; }
.notice { background:var(--ok-soft); border:1px solid #a8d5b2; color:#14512a; }
.error { background:var(--danger-soft); border:1px solid #f1a9a3; color:var(--danger); }
.warning { background:var(--accent-soft); border:1px solid #f5c27a; color:#7a4600; }
.killswitch { border:1px solid var(--danger); background:var(--danger-soft); border-radius:12px; padding:14px 16px; display:flex; align-items:center; justify-content:space-between; gap:16px; margin-bottom:18px; }
.killswitch.off { border-color:#a8d5b2; background:var(--ok-soft); }
.killswitch p { margin:0; }
.danger-zone { border-color:#f1a9a3; }
.danger-zone h2 { color:var(--danger); }
.secret { font-family:var(--mono); font-size:15px; background:#1d1f24; color:#f8f8f2; padding:14px 16px; border-radius:10px; word-break:break-all; }
pre.snippet { font-family:var(--mono); font-size:12px; background:#f3f4f6; border:1px solid var(--line); padding:12px 14px; border-radius:10px; overflow-x:auto; }
.chart { width:100%; height:auto; display:block; }
.spark { display:block; }
.empty { padding:28px; text-align:center; color:var(--muted); }
.pager { display:flex; justify-content:space-between; padding:12px 16px; }
.option { border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.option.current { border-color:var(--accent); box-shadow:0 0 0 1px var(--accent) inset; }
`;

/** Renders a dashboard page with Satchel's security headers and a per-response CSP nonce. */
export function dashboardPage(p: DashboardPage): Response {
  const nonce = newNonce();
  const tabs = TABS.map((t) => html`<a href="${t.href}" class="${t.id === p.tab ? "active" : ""}">${t.label}</a>`);
  const doc = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>${p.title} · Satchel</title>
        <style nonce="${nonce}">
          ${new SafeHtml(STYLE)}
        </style>
      </head>
      <body>
        <header class="top">
          <div class="bar">
            <a class="brand" href="/"><span>⚡</span> Satchel</a>
            <div class="who">
              <span>Signed in as <strong>${p.operatorName}</strong></span>
              <form method="post" action="/sign-out">
                <input type="hidden" name="csrf" value="${p.session.csrf}" /><button class="link" type="submit">
                  Sign out
                </button>
              </form>
            </div>
          </div>
          <nav class="tabs" aria-label="Dashboard">${tabs}</nav>
        </header>
        <main>
          ${p.notice ? html`<div class="notice" role="status">${p.notice}</div>` : ""}
          ${p.error ? html`<div class="error" role="alert">${p.error}</div>` : ""} ${p.body}
        </main>
        ${
          p.script
            ? html`<script nonce="${nonce}">
                ${new SafeHtml(p.script)};
              </script>`
            : ""
        }
      </body>
    </html>`;
  return new Response(doc.value, { status: p.status ?? 200, headers: securityHeaders(nonce) });
}

/** A column heading; "num" right-aligns a column of figures. */
export type Column = string | readonly [label: string, align: "num"];

/** A table in its scrolling wrapper: one heading per column, then the rows as given. */
export function dataTable(columns: readonly Column[], rows: readonly SafeHtml[]): SafeHtml {
  const heads = columns.map((c) => (typeof c === "string" ? html`<th>${c}</th>` : html`<th class="num">${c[0]}</th>`));
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          ${heads}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}

/** The hidden CSRF field every dashboard form carries. */
export function csrfField(session: WebSession): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${session.csrf}" />`;
}

/** 1234567 → "1,234,567". */
export function formatInt(n: number): string {
  const sign = n < 0 ? "-" : "";
  return sign + String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** msats as whole sats for costs (rounded up, like the tools). */
export const satsCeil = (msat: number): string => formatInt(Math.ceil(msat / 1000));
/** msats as whole sats for balances and headroom (rounded down). */
export const satsFloor = (msat: number): string => formatInt(Math.floor(Math.max(0, msat) / 1000));
/** A limit in sats, or "—" when there is none. */
export const limitText = (msat: number | null): string => (msat === null ? "—" : formatInt(Math.floor(msat / 1000)));

/** Unix ms as "2026-11-23 14:05 UTC". */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** A coloured status pill. */
export function statusBadge(status: string): SafeHtml {
  const tone =
    status === "active" || status === "succeeded"
      ? "ok"
      : status === "disabled" || status === "failed" || status === "revoked" || status === "expired"
        ? "bad"
        : status === "reserved" || status === "pending" || status === "open"
          ? "warn"
          : "";
  const label = status === "disabled" ? "deactivated" : status;
  return html`<span class="badge ${tone}">${label}</span>`;
}
