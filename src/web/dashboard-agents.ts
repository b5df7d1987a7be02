/** The Agents pages of the dashboard: the overview (wallet summary, agents table, create form) and one agent. */
import type { WebSession } from "../auth/session";
import type { OperatorOverview } from "../accounts/operator";
import type { BudgetPolicy } from "../ledger/policy";
import type { AgentSnapshot } from "../ledger/views";
import type { AgentRecord } from "../store/accounts";
import type { JournalRow } from "../store/journal";
import type { WalletConnectionView } from "../wallet/connection";
import { sparkline, spendingChart, type DayPoint } from "./dashboard-chart";
import { csrfField, dataTable, limitText, satsCeil, satsFloor, statusBadge, when } from "./dashboard-layout";
import { transactionsTable } from "./dashboard-transactions";
import { html, type SafeHtml } from "./html";

export interface AgentRow {
  record: AgentRecord;
  snapshot: AgentSnapshot;
  series: DayPoint[];
}

/** What a create or edit form showed, so a refused submission keeps what was typed (no secrets here). */
export type LimitValues = Record<
  "max_per_payment_sats" | "daily_limit_sats" | "budget_limit_sats" | "per_session_limit_sats" | "allowed_hosts",
  string
>;

export function limitValues(p: BudgetPolicy): LimitValues {
  const v = (m: number | null) => (m === null ? "" : String(Math.floor(m / 1000)));
  return {
    max_per_payment_sats: v(p.maxPerPaymentMsat),
    daily_limit_sats: v(p.dailyLimitMsat),
    budget_limit_sats: v(p.budgetLimitMsat),
    per_session_limit_sats: v(p.perSessionLimitMsat),
    allowed_hosts: (p.allowedHosts ?? []).join("\n"),
  };
}

function limitInputs(v: LimitValues): SafeHtml {
  const num = (name: keyof LimitValues, label: string, hint: string) =>
    html`<div>
      <label for="${name}">${label}</label>
      <input
        type="number"
        min="0"
        step="1"
        inputmode="numeric"
        id="${name}"
        name="${name}"
        value="${v[name]}"
        placeholder="no limit"
      />
      <div class="hint">${hint}</div>
    </div>`;
  return html`<div class="grid2">
      ${num("max_per_payment_sats", "Max per payment (sats)", "Largest single payment")}
      ${num("daily_limit_sats", "Daily limit (sats)", "Any rolling 24 hours")}
      ${num("budget_limit_sats", "Lifetime budget (sats)", "Over the agent's life")}
      ${num("per_session_limit_sats", "Per session (sats)", "One connection or key")}
    </div>
    <label for="allowed_hosts">Allowed hosts</label>
    <textarea id="allowed_hosts" name="allowed_hosts" rows="2" placeholder="all hosts">${v.allowed_hosts}</textarea>
    <div class="hint">
      Hosts paid APIs may be reached on, one per line (e.g. api.example.com, *.example.com). Empty allows all.
    </div>`;
}

function limitsSummary(p: BudgetPolicy): SafeHtml {
  const item = (k: string, m: number | null) => html`<div><span class="muted">${k}</span> ${limitText(m)}</div>`;
  return html`<div class="small">
    ${item("per payment", p.maxPerPaymentMsat)}${item("daily", p.dailyLimitMsat)}${item("lifetime", p.budgetLimitMsat)}${item("session", p.perSessionLimitMsat)}
    ${p.allowedHosts ? html`<div><span class="muted">hosts</span> ${p.allowedHosts.join(", ")}</div>` : ""}
  </div>`;
}

/** The kill switch form: deactivate (refuses all payments at once) or reactivate. */
export function killSwitch(session: WebSession, agentId: string, status: string, fromOverview: boolean): SafeHtml {
  const active = status === "active";
  const small = fromOverview;
  return html`<form method="post" action="/agents/${agentId}/${active ? "deactivate" : "reactivate"}">
    ${csrfField(session)}${fromOverview ? html`<input type="hidden" name="back" value="overview" />` : ""}
    <button
      type="submit"
      class="${active ? "danger" : "secondary"} ${small ? "small" : ""}"
      data-testid="${active ? "kill" : "reactivate"}"
    >
      ${active ? "Deactivate" : "Reactivate"}
    </button>
  </form>`;
}

export interface OverviewData {
  session: WebSession;
  /** Null when the wallet did not answer: the agents are still listed. */
  overview: OperatorOverview | null;
  wallet: WalletConnectionView;
  agents: AgentRow[];
  more: boolean;
  createValues?: { name: string } & LimitValues & { initial_balance_sats: string };
}

const WALLET_LABEL: Record<string, string> = {
  fake: "Built-in fake wallet",
  nwc: "Nostr Wallet Connect",
  lnbits: "LNbits",
};

export function walletLabel(type: string): string {
  return WALLET_LABEL[type] ?? type;
}

const WALLET_NOUN: Record<string, string> = {
  fake: "built-in fake wallet",
  nwc: "Nostr Wallet Connect wallet",
  lnbits: "LNbits wallet",
};

/** The wallet kind inside a sentence ("the LNbits wallet answered"). */
export function walletNoun(type: string): string {
  return WALLET_NOUN[type] ?? `${type} wallet`;
}

/** The overview: wallet figures, the agents table and the create-agent form. */
export function overviewBody(d: OverviewData): SafeHtml {
  const o = d.overview;
  const rows = d.agents.map(
    ({ record, snapshot: s, series }) =>
      html`<tr data-agent="${record.id}">
        <td>
          <a href="/agents/${record.id}"><strong>${record.name}</strong></a>
          <div class="mono muted">${record.id}</div>
        </td>
        <td>${statusBadge(record.status)}</td>
        <td class="num">${satsFloor(s.availableMsat)}</td>
        <td class="num">${satsCeil(s.reservedMsat)}</td>
        <td class="num">
          ${satsCeil(s.spentMsat)}
          <div class="small muted">${satsCeil(s.dailySpentMsat)} in 24 h</div>
        </td>
        <td>${limitsSummary(s.policy)}</td>
        <td>${sparkline(series, `Spending of ${record.name}, last 30 days`)}</td>
        <td class="actions">
          <a class="button secondary small" href="/agents/${record.id}">Manage</a>
          ${killSwitch(d.session, record.id, record.status, true)}
        </td>
      </tr>`,
  );
  const cv = d.createValues ?? {
    name: "",
    initial_balance_sats: "",
    max_per_payment_sats: "",
    daily_limit_sats: "",
    budget_limit_sats: "",
    per_session_limit_sats: "",
    allowed_hosts: "",
  };
  const figure = (msat: number | undefined) =>
    msat === undefined ? html`<span class="muted">—</span>` : html`${satsFloor(msat)} <small>sats</small>`;
  // Without the wallet's answer, what agents hold is still known from their ledgers (as overview counts it).
  const allocated =
    o?.allocatedMsat ??
    d.agents.reduce((sum, a) => sum + Math.max(0, a.snapshot.availableMsat) + a.snapshot.reservedMsat, 0);
  return html`<div class="page-head">
      <div>
        <h1>Agents</h1>
        <div class="sub">Each agent has its own balance, limits and API key.</div>
      </div>
    </div>
    ${
      o
        ? ""
        : html`<div class="warning">
            Your ${walletNoun(d.wallet.type)} did not answer, so its balance is unknown.
            <a href="/wallet">Check the wallet connection</a>.
          </div>`
    }
    <div class="stats">
      <div class="stat">
        <div class="k">Wallet balance</div>
        <div class="v">${figure(o?.walletBalanceMsat)}</div>
      </div>
      <div class="stat">
        <div class="k">Allocated to agents</div>
        <div class="v">${figure(allocated)}</div>
      </div>
      <div class="stat">
        <div class="k">Unallocated</div>
        <div class="v">${figure(o?.unallocatedMsat)}</div>
      </div>
      <div class="stat">
        <div class="k">Wallet</div>
        <div class="v"><small>${walletLabel(d.wallet.type)}</small></div>
        <div class="small">
          <a href="/wallet">${d.wallet.type === "fake" ? "Connect your wallet" : d.wallet.description}</a>
        </div>
      </div>
    </div>
    <div class="card flush">
      <div class="card-head"><h2>Your agents (${o?.agentCount ?? d.agents.length})</h2></div>
      ${
        rows.length === 0
          ? html`<div class="empty">No agents yet. Create one below and give its API key to your MCP client.</div>`
          : dataTable(
              [
                "Agent",
                "Status",
                ["Balance", "num"],
                ["Reserved", "num"],
                ["Spent", "num"],
                "Limits (sats)",
                "30 days",
                "",
              ],
              rows,
            )
      }
      ${d.more ? html`<div class="pager muted small">Showing the first ${d.agents.length} agents.</div>` : ""}
    </div>
    <div class="card" id="create">
      <h2>Create an agent</h2>
      <form method="post" action="/agents">
        ${csrfField(d.session)}
        <div class="grid2">
          <div>
            <label for="name">Name</label>
            <input
              type="text"
              id="name"
              name="name"
              maxlength="100"
              required
              value="${cv.name}"
              placeholder="research-assistant"
            />
          </div>
          <div>
            <label for="initial_balance_sats">Initial balance (sats)</label>
            <input
              type="number"
              min="0"
              step="1"
              id="initial_balance_sats"
              name="initial_balance_sats"
              value="${cv.initial_balance_sats}"
              placeholder="0"
            />
            <div class="hint">
              Allocated from the wallet's ${o ? satsFloor(o.unallocatedMsat) : ""} unallocated sats.
            </div>
          </div>
        </div>
        ${limitInputs(cv)}
        <div class="actions">
          <button type="submit">Create agent</button><span class="hint">The API key is shown once.</span>
        </div>
      </form>
    </div>`;
}

export interface AgentData {
  session: WebSession;
  record: AgentRecord;
  snapshot: AgentSnapshot;
  series: DayPoint[];
  recent: JournalRow[];
  keyPrefix: string | null;
  limitValues?: LimitValues;
}

/** One agent: kill switch, figures, 30-day chart, limits, funding, key, recent transactions, delete. */
export function agentBody(d: AgentData): SafeHtml {
  const s = d.snapshot;
  const r = d.record;
  const active = r.status === "active";
  const total30 = d.series.reduce((sum, p) => sum + p.spentMsat, 0);
  return html`<div class="page-head">
      <div>
        <div class="small"><a href="/">← Agents</a></div>
        <h1>${r.name} ${statusBadge(r.status)}</h1>
        <div class="sub mono">${r.id} · created ${when(r.created_at)}</div>
      </div>
    </div>
    <div class="killswitch ${active ? "" : "off"}">
      <p>
        ${
          active
            ? html`<strong>Kill switch.</strong> Deactivating refuses every payment of this agent at once and its key
                stops working. You can reactivate it later.`
            : html`<strong>This agent is deactivated.</strong> Its payments are refused and its key does not work.
                Reactivate to let it pay again.`
        }
      </p>
      ${killSwitch(d.session, r.id, r.status, false)}
    </div>
    <div class="stats">
      <div class="stat">
        <div class="k">Balance</div>
        <div class="v">${satsFloor(s.availableMsat)} <small>sats</small></div>
      </div>
      <div class="stat">
        <div class="k">Reserved</div>
        <div class="v">${satsCeil(s.reservedMsat)} <small>sats</small></div>
      </div>
      <div class="stat">
        <div class="k">Spendable now</div>
        <div class="v">${satsFloor(s.remaining.spendableMsat)} <small>sats</small></div>
      </div>
      <div class="stat">
        <div class="k">Spent, 24 h</div>
        <div class="v">${satsCeil(s.dailySpentMsat)} <small>sats</small></div>
      </div>
      <div class="stat">
        <div class="k">Spent, lifetime</div>
        <div class="v">${satsCeil(s.spentMsat)} <small>sats</small></div>
      </div>
    </div>
    <div class="card">
      <div class="card-head">
        <h2>Spending, last 30 days</h2>
        <span class="muted small">${satsCeil(total30)} sats · UTC days</span>
      </div>
      ${spendingChart(d.series, `Daily spending of ${r.name} over the last 30 days, in sats`)}
    </div>
    <div class="cols">
      <div class="card">
        <h2>Limits</h2>
        <form method="post" action="/agents/${r.id}/budget">
          ${csrfField(d.session)} ${limitInputs(d.limitValues ?? limitValues(s.policy))}
          <div class="actions">
            <button type="submit">Save limits</button
            ><span class="hint">Applies to the agent's next payment. Empty removes a limit.</span>
          </div>
        </form>
      </div>
      <div>
        <div class="card">
          <h2>Fund</h2>
          <form method="post" action="/agents/${r.id}/fund" class="row">
            ${csrfField(d.session)}
            <input
              type="number"
              min="1"
              step="1"
              name="amount_sats"
              required
              placeholder="amount in sats"
              aria-label="Amount to fund in sats"
            />
            <button type="submit">Fund</button>
          </form>
          <div class="hint">Allocates sats of your wallet to this agent; no sats move.</div>
        </div>
        <div class="card">
          <h2>Sweep</h2>
          <form method="post" action="/agents/${r.id}/sweep" class="row">
            ${csrfField(d.session)}
            <input
              type="number"
              min="1"
              step="1"
              name="amount_sats"
              placeholder="all available"
              aria-label="Amount to sweep in sats"
            />
            <button type="submit" class="secondary">Sweep to wallet</button>
          </form>
          <div class="hint">Returns the agent's available sats (or the amount given) to your unallocated balance.</div>
        </div>
        <div class="card">
          <h2>API key</h2>
          <p class="small">Current key: <span class="mono">${d.keyPrefix ? `${d.keyPrefix}…` : "none"}</span></p>
          <form method="post" action="/agents/${r.id}/rotate-key">
            ${csrfField(d.session)}
            <button type="submit" class="secondary">Rotate key</button>
            <span class="hint">The old key stops working at once; the new one is shown once.</span>
          </form>
        </div>
      </div>
    </div>
    <div class="card flush">
      <div class="card-head">
        <h2>Recent transactions</h2>
        <a class="small" href="/transactions?agent=${r.id}">All transactions of this agent →</a>
      </div>
      ${transactionsTable(d.recent, new Map([[r.id, r.name]]), false)}
    </div>
    <div class="card danger-zone">
      <h2>Delete agent</h2>
      <p class="small">
        Deleting revokes its keys and returns its available balance to your wallet. Payments in flight still settle or
        are reconciled. This cannot be undone.
      </p>
      <form method="post" action="/agents/${r.id}/delete" class="row">
        ${csrfField(d.session)}
        <label class="check"
          ><input type="checkbox" name="confirm" value="yes" required /> I understand that this agent is deleted for
          good.</label
        >
        <button type="submit" class="danger">Delete agent</button>
      </form>
    </div>`;
}

/** A key shown exactly once (new agent, rotation, new operator key), with a client configuration. */
export function newKeyBody(d: {
  heading: string;
  key: string;
  origin: string;
  backHref: string;
  backLabel: string;
  warning?: string | undefined;
}): SafeHtml {
  const config = JSON.stringify(
    { mcpServers: { satchel: { url: `${d.origin}/mcp`, headers: { Authorization: `Bearer ${d.key}` } } } },
    null,
    2,
  );
  return html`<div class="page-head">
      <div>
        <h1>${d.heading}</h1>
        <div class="sub">Copy the key now: Satchel stores only its hash and cannot show it again.</div>
      </div>
    </div>
    ${d.warning ? html`<div class="warning">${d.warning}</div>` : ""}
    <div class="card">
      <h2>API key</h2>
      <div class="secret" id="new-key" data-testid="new-key">${d.key}</div>
      <div class="actions">
        <button type="button" class="secondary" id="copy-key">Copy</button
        ><a class="button" href="${d.backHref}">${d.backLabel}</a>
      </div>
    </div>
    <div class="card">
      <h2>MCP client configuration</h2>
      <p class="small muted">For clients configured with a URL and headers (Cursor's mcp.json and similar):</p>
      <pre class="snippet">${config}</pre>
    </div>`;
}

/** Copies the new key to the clipboard; text content only, no user data in the script. */
export const COPY_SCRIPT = `document.getElementById("copy-key")?.addEventListener("click", function () {
  var t = document.getElementById("new-key"); if (!t || !navigator.clipboard) return;
  navigator.clipboard.writeText(t.textContent || "").then(function () { document.getElementById("copy-key").textContent = "Copied"; });
});`;
