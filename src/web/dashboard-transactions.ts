/** The Transactions page: filters, the journal table, and the CSV/JSON download links. */
import type { WebSession } from "../auth/session";
import type { JournalRow } from "../store/journal";
import { AGENT_ID } from "./dashboard-forms";
import { dataTable, satsCeil, statusBadge, when } from "./dashboard-layout";
import { html, type SafeHtml } from "./html";

export const STATUSES = ["open", "reserved", "pending", "succeeded", "failed", "expired"] as const;
export const PAGE_SIZE = 100;

/** Filters as read from the query string; anything malformed is dropped, never echoed. */
export interface TxFilters {
  agent?: string;
  direction?: "in" | "out";
  status?: string;
  /** YYYY-MM-DD, UTC, inclusive. */
  from?: string;
  to?: string;
  offset: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const dayMs = (d: string) => (DAY.test(d) ? Date.parse(`${d}T00:00:00Z`) : NaN);

export function parseFilters(q: (name: string) => string | undefined): TxFilters {
  const f: TxFilters = { offset: 0 };
  const agent = q("agent");
  if (agent && AGENT_ID.test(agent)) f.agent = agent;
  const direction = q("direction");
  if (direction === "in" || direction === "out") f.direction = direction;
  const status = q("status");
  if (status && (STATUSES as readonly string[]).includes(status)) f.status = status;
  const from = q("from");
  if (from && Number.isFinite(dayMs(from))) f.from = from;
  const to = q("to");
  if (to && Number.isFinite(dayMs(to))) f.to = to;
  const offset = Number(q("offset") ?? "0");
  if (Number.isSafeInteger(offset) && offset > 0 && offset <= 100_000) f.offset = offset;
  return f;
}

/** The date range in unix ms: from the start of `from` to the end of `to` (UTC). */
export function rangeOf(f: TxFilters): { since?: number; until?: number } {
  return {
    ...(f.from ? { since: dayMs(f.from) } : {}),
    ...(f.to ? { until: dayMs(f.to) + 86_400_000 } : {}),
  };
}

/** A query string of the filters (offset replaced), for links. */
export function filterQuery(f: TxFilters, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  if (f.agent) p.set("agent", f.agent);
  if (f.direction) p.set("direction", f.direction);
  if (f.status) p.set("status", f.status);
  if (f.from) p.set("from", f.from);
  if (f.to) p.set("to", f.to);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Journal rows as a table; `agentColumn` adds the agent's name. */
export function transactionsTable(rows: JournalRow[], names: Map<string, string>, agentColumn: boolean): SafeHtml {
  if (rows.length === 0) return html`<div class="empty">No transactions.</div>`;
  const body = rows.map((r) => {
    const other = r.host ?? r.counterparty ?? "";
    return html`<tr>
      <td class="small nowrap">${when(r.created_at)}</td>
      ${agentColumn ? html`<td>${names.has(r.agent_id) ? html`<a href="/agents/${r.agent_id}">${names.get(r.agent_id)}</a>` : html`<span class="mono muted">${r.agent_id}</span>`}</td>` : ""}
      <td>${r.direction === "out" ? "↑ out" : "↓ in"}</td>
      <td>${r.kind}</td>
      <td>${statusBadge(r.status)}${r.error_code ? html`<div class="small muted">${r.error_code}</div>` : ""}</td>
      <td class="num">${satsCeil(r.amount_msat)}</td>
      <td class="num">${satsCeil(r.fee_msat)}</td>
      <td class="memo" title="${r.description ?? ""}">${r.description ?? ""}</td>
      <td class="small mono">${other}</td>
    </tr>`;
  });
  return dataTable(
    [
      "Time",
      ...(agentColumn ? ["Agent"] : []),
      "Direction",
      "Kind",
      "Status",
      ["Amount (sats)", "num"],
      ["Fee", "num"],
      "Memo",
      "Counterparty / host",
    ],
    body,
  );
}

export interface TransactionsData {
  session: WebSession;
  filters: TxFilters;
  rows: JournalRow[];
  more: boolean;
  agents: { id: string; name: string }[];
  names: Map<string, string>;
}

export function transactionsBody(d: TransactionsData): SafeHtml {
  const f = d.filters;
  const option = (value: string, label: string, current: string | undefined) =>
    html`<option value="${value}" ${value === (current ?? "") ? "selected" : ""}>${label}</option>`;
  const exportQuery = filterQuery({
    offset: 0,
    ...(f.agent ? { agent: f.agent } : {}),
    ...(f.from ? { from: f.from } : {}),
    ...(f.to ? { to: f.to } : {}),
  });
  return html`<div class="page-head">
      <div>
        <h1>Transactions</h1>
        <div class="sub">Every payment, invoice and allocation of your agents, newest first. Times in UTC.</div>
      </div>
      <div class="row">
        <a class="button secondary" href="/transactions.csv${exportQuery}" download data-testid="download-csv"
          >Download CSV</a
        >
        <a class="button secondary" href="/transactions.json${exportQuery}" download>Download JSON</a>
      </div>
    </div>
    <div class="card">
      <form method="get" action="/transactions" class="filters">
        <div>
          <label for="f-agent">Agent</label
          ><select id="f-agent" name="agent">
            ${option("", "All agents", f.agent)}${d.agents.map((a) => option(a.id, a.name, f.agent))}
          </select>
        </div>
        <div>
          <label for="f-direction">Direction</label
          ><select id="f-direction" name="direction">
            ${option("", "Both", f.direction)}${option("out", "Outgoing", f.direction)}${option("in", "Incoming", f.direction)}
          </select>
        </div>
        <div>
          <label for="f-status">Status</label
          ><select id="f-status" name="status">
            ${option("", "Any", f.status)}${STATUSES.map((s) => option(s, s, f.status))}
          </select>
        </div>
        <div><label for="f-from">From</label><input type="date" id="f-from" name="from" value="${f.from ?? ""}" /></div>
        <div><label for="f-to">To</label><input type="date" id="f-to" name="to" value="${f.to ?? ""}" /></div>
        <div class="row">
          <button type="submit">Apply</button><a href="/transactions" class="button secondary">Reset</a>
        </div>
      </form>
      <div class="hint">Downloads include the agent and date filters (up to 10,000 rows).</div>
    </div>
    <div class="card flush">
      ${transactionsTable(d.rows, d.names, true)}
      ${
        f.offset > 0 || d.more
          ? html`<div class="pager">
              <span
                >${f.offset > 0 ? html`<a href="/transactions${filterQuery(f, { offset: String(Math.max(0, f.offset - PAGE_SIZE)) })}">← Newer</a>` : ""}</span
              >
              <span
                >${d.more ? html`<a href="/transactions${filterQuery(f, { offset: String(f.offset + PAGE_SIZE) })}">Older →</a>` : ""}</span
              >
            </div>`
          : ""
      }
    </div>`;
}
