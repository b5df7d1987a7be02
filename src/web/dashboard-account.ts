/** The account pages of the dashboard: connected OAuth clients, API keys, and the wallet connection. */
import type { WebSession } from "../auth/session";
import type { KeyRecord } from "../store/accounts";
import type { WalletConnectionView } from "../wallet/connection";
import { walletLabel } from "./dashboard-agents";
import { csrfField, dataTable, statusBadge, when } from "./dashboard-layout";
import { html, type SafeHtml } from "./html";

/** One OAuth grant as listed: what the consent page stored as its (non-secret) metadata. */
export interface ClientRow {
  grantId: string;
  clientName: string;
  redirectHost: string;
  agentId: string | null;
  agentName: string | null;
  connectionCapSats: number | null;
  createdAt: number;
  expiresAt: number | null;
}

export function clientsBody(d: { session: WebSession; clients: ClientRow[] | null }): SafeHtml {
  const head = html`<div class="page-head">
    <div>
      <h1>Connected clients</h1>
      <div class="sub">
        MCP clients you approved with OAuth (Claude, ChatGPT, Cursor, …). Each is bound to one agent. Revoking ends its
        access at once.
      </div>
    </div>
  </div>`;
  if (d.clients === null) {
    return html`${head}
      <div class="card">
        <div class="empty">
          OAuth is not available on this address (it needs https, or http on localhost), so no client can be connected
          here. API keys still work.
        </div>
      </div>`;
  }
  if (d.clients.length === 0) {
    return html`${head}
      <div class="card">
        <div class="empty">
          No connected clients. Paste this server's <span class="mono">/mcp</span> URL into an MCP client to connect
          one.
        </div>
      </div>`;
  }
  const rows = d.clients.map(
    (g) =>
      html`<tr data-grant="${g.grantId}">
        <td>
          <strong>${g.clientName}</strong>
          <div class="small muted">${g.redirectHost}</div>
        </td>
        <td>${g.agentId ? html`<a href="/agents/${g.agentId}">${g.agentName ?? g.agentId}</a>` : "—"}</td>
        <td class="num">${g.connectionCapSats === null ? "—" : String(g.connectionCapSats)}</td>
        <td class="small">${when(g.createdAt)}</td>
        <td class="small">${g.expiresAt ? when(g.expiresAt) : "—"}</td>
        <td class="actions">
          <form method="post" action="/clients/${g.grantId}/revoke">
            ${csrfField(d.session)}<button type="submit" class="danger-outline small">Revoke</button>
          </form>
        </td>
      </tr>`,
  );
  return html`${head}
    <div class="card flush">
      ${dataTable(["Client", "Agent", ["Connection cap (sats)", "num"], "Connected", "Expires", ""], rows)}
    </div>`;
}

export function keysBody(d: {
  session: WebSession;
  keys: KeyRecord[];
  agents: Map<string, { name: string; status: string }>;
  /** A development server also accepts its configured DEV_OPERATOR_KEY, which is not an issued key. */
  development: boolean;
}): SafeHtml {
  const rows = d.keys.map((k) => {
    const live = k.revoked_at === null;
    const agent = k.agent_id === null ? undefined : d.agents.get(k.agent_id);
    const owner =
      k.agent_id === null
        ? html`<span class="badge warn">operator</span>`
        : agent && agent.status !== "deleted"
          ? html`<a href="/agents/${k.agent_id}">${agent.name}</a>`
          : html`${agent?.name ?? k.agent_id} <span class="muted small">(deleted)</span>`;
    const action = !live
      ? ""
      : k.agent_id === null
        ? html`<form method="post" action="/keys/${k.id}/rotate">
            ${csrfField(d.session)}<button type="submit" class="secondary small">Rotate</button>
          </form>`
        : agent && agent.status !== "deleted"
          ? html`<form method="post" action="/agents/${k.agent_id}/rotate-key">
              ${csrfField(d.session)}<button type="submit" class="secondary small">Rotate</button>
            </form>`
          : "";
    return html`<tr data-key="${k.id}">
      <td class="mono">${k.key_prefix}…</td>
      <td>${owner}</td>
      <td class="small">${when(k.created_at)}</td>
      <td>
        ${live ? statusBadge("active") : html`${statusBadge("revoked")} <span class="small muted">${when(k.revoked_at)}</span>`}
      </td>
      <td class="actions">${action}</td>
    </tr>`;
  });
  return html`<div class="page-head">
      <div>
        <h1>API keys</h1>
        <div class="sub">
          Keys for MCP clients configured by hand. Only a prefix is kept for display; a key is shown once, when it is
          made.
        </div>
      </div>
      <form method="post" action="/keys/operator">
        ${csrfField(d.session)}<button type="submit">New operator key</button>
      </form>
    </div>
    <div class="card flush">
      ${
        rows.length === 0
          ? html`<div class="empty">No keys yet.</div>`
          : dataTable(["Key", "Belongs to", "Created", "Status", ""], rows)
      }
    </div>
    <p class="small muted">
      An operator key has full access to every agent: keep it out of agents' hands. Rotating a key revokes it at once
      and shows its replacement.
    </p>
    ${
      d.development
        ? html`<p class="small muted">
            This development server also accepts its configured <span class="mono">DEV_OPERATOR_KEY</span>, which is not
            listed here and cannot be rotated from the dashboard.
          </p>`
        : ""
    }`;
}

export interface WalletData {
  session: WebSession;
  wallet: WalletConnectionView;
  keyStatus: "ok" | "missing" | "invalid";
  /** Result of "Test connection", when just run. */
  test?: { ok: boolean; message: string } | undefined;
}

export function walletBody(d: WalletData): SafeHtml {
  const w = d.wallet;
  const cur = (t: string) => (w.type === t ? "option current" : "option");
  const keyProblem =
    d.keyStatus === "ok"
      ? ""
      : html`<div class="warning">
          This server has ${d.keyStatus === "missing" ? "no" : "an invalid"}
          <span class="mono">WALLET_SECRET_KEY</span>, so wallet secrets cannot be stored. Set it with
          <span class="mono">wrangler secret put WALLET_SECRET_KEY</span> (32 random bytes, base64). The fake wallet
          works without it.
        </div>`;
  return html`<div class="page-head">
      <div>
        <h1>Wallet</h1>
        <div class="sub">
          The Lightning wallet your agents' payments draw on. Agents' balances are allocations of it.
        </div>
      </div>
    </div>
    <div class="card">
      <div class="card-head">
        <h2>Current connection</h2>
        <form method="post" action="/wallet/test">
          ${csrfField(d.session)}<button type="submit" class="secondary">Test connection</button>
        </form>
      </div>
      <p>
        <strong>${walletLabel(w.type)}</strong> ${w.readable ? "" : statusBadge("failed")}
        <span class="muted">· ${w.description}</span>
      </p>
      ${d.test ? html`<div class="${d.test.ok ? "notice" : "warning"}" data-testid="wallet-test">${d.test.message}</div>` : ""}
      <p class="small muted">
        “Test connection” asks the wallet that payments go through right now for its info and balance.
      </p>
    </div>
    ${keyProblem}
    <div class="cols">
      <div class="card ${cur("nwc")}">
        <h2>Nostr Wallet Connect</h2>
        <form method="post" action="/wallet" autocomplete="off">
          ${csrfField(d.session)}<input type="hidden" name="type" value="nwc" />
          <label for="nwc-uri">Connection URI</label>
          <input
            type="password"
            id="nwc-uri"
            name="nwc_uri"
            required
            autocomplete="off"
            spellcheck="false"
            placeholder="nostr+walletconnect://…"
          />
          <div class="hint">
            From Alby Hub, Mutiny, Coinos… (“Add connection”). Stored encrypted; never shown again.
          </div>
          <div class="actions"><button type="submit">Connect NWC wallet</button></div>
        </form>
      </div>
      <div class="card ${cur("lnbits")}">
        <h2>LNbits</h2>
        <form method="post" action="/wallet" autocomplete="off">
          ${csrfField(d.session)}<input type="hidden" name="type" value="lnbits" />
          <label for="lnbits-url">LNbits URL</label>
          <input type="url" id="lnbits-url" name="lnbits_url" required placeholder="https://lnbits.example.com" />
          <label for="lnbits-key">API key</label>
          <input
            type="password"
            id="lnbits-key"
            name="lnbits_key"
            required
            autocomplete="off"
            spellcheck="false"
            placeholder="admin or invoice key"
          />
          <div class="hint">The key is stored encrypted; never shown again.</div>
          <div class="actions"><button type="submit">Connect LNbits</button></div>
        </form>
      </div>
    </div>
    <div class="card ${cur("fake")}">
      <h2>Built-in fake wallet</h2>
      <p class="small muted">
        A simulated Lightning network inside Satchel, for trying things out: no real sats. Choosing it forgets any
        stored wallet secret.
      </p>
      <form method="post" action="/wallet">
        ${csrfField(d.session)}<input type="hidden" name="type" value="fake" /><button type="submit" class="secondary">
          Use the fake wallet
        </button>
      </form>
    </div>`;
}
