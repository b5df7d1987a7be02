import { AuthorizationError, CimdFetchError, type OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import { Hono, type Context } from "hono";
import { createAgent, listAgents, setBudget } from "../accounts/agents";
import { OAUTH_SCOPE, oauthHelpers, type GrantProps } from "../auth/oauth";
import { getSession, verifyCsrf, type WebSession } from "../auth/session";
import type { BudgetPolicy } from "../ledger/policy";
import type { AgentSnapshot } from "../ledger/views";
import { MAX_SATS } from "../money";
import { getAgent } from "../store/accounts";
import { html, type SafeHtml } from "./html";
import { cspSourceFor, page } from "./layout";

/**
 * The consent page (`/authorize`): after sign-in the operator sees which client asks and where the
 * tokens go, picks or creates the agent the client will act as, and sets its limits. Approving
 * issues a grant whose props are that agent's principal (see auth/oauth.ts); denying sends the
 * client `error=access_denied`. The authorization request itself never travels through the form:
 * the provider keeps it server-side behind a single-use handle bound to this browser.
 */
export const consent = new Hono<{ Bindings: Env }>();

type C = Context<{ Bindings: Env }>;

const HOST = /^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/;

function errorPage(status: number, title: string, message: string, session?: WebSession): Response {
  return page({
    title,
    status,
    signedIn: session,
    body: html`<div class="card">
      <h1>${title}</h1>
      <p class="error">${message}</p>
    </div>`,
  });
}

/** Renders or redirects a failed authorization request, as the provider's docs prescribe. */
function authorizationFailure(e: unknown, session?: WebSession): Response {
  if (e instanceof AuthorizationError && e.redirectTo) {
    return new Response(null, { status: 302, headers: { location: e.redirectTo, "cache-control": "no-store" } });
  }
  if (e instanceof AuthorizationError) return errorPage(400, "Cannot authorize this app", e.description, session);
  if (e instanceof CimdFetchError)
    return errorPage(400, "Cannot authorize this app", "This app could not be verified.", session);
  throw e;
}

function helpersOf(c: C): OAuthHelpers | null {
  return oauthHelpers(c.env, new URL(c.req.url).origin);
}

const sats = (msat: number | null) =>
  msat === null ? "no limit" : `${Math.floor(msat / 1000).toLocaleString("en-US")} sats`;

function agentSummary(s: AgentSnapshot): string {
  const p = s.policy;
  return [
    `balance ${sats(s.availableMsat)}`,
    `per payment ${sats(p.maxPerPaymentMsat)}`,
    `per day ${sats(p.dailyLimitMsat)}`,
    `lifetime ${sats(p.budgetLimitMsat)}`,
    p.allowedHosts ? `hosts ${p.allowedHosts.join(", ")}` : "any host",
  ].join(" · ");
}

consent.get("/authorize", async (c) => {
  const oauth = helpersOf(c);
  if (!oauth) return errorPage(400, "OAuth unavailable", "OAuth needs https (or a loopback address in development).");
  let request;
  try {
    // First, before anything else: an unknown client or unregistered redirect_uri ends here.
    request = await oauth.parseAuthRequest(c.req.raw);
  } catch (e) {
    return authorizationFailure(e);
  }
  const session = await getSession(c.req.raw, c.env);
  if (!session) {
    const url = new URL(c.req.url);
    return c.redirect(`/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
  }
  let details;
  try {
    details = await oauth.describeConsent(request);
  } catch (e) {
    return authorizationFailure(e, session);
  }
  const transaction = await oauth.beginConsent(request);
  const agents = await listAgents(c.env, session.operatorId, { limit: 100, offset: 0 });
  const active = agents.filter((a) => a.record.status === "active");
  const redirectSource = cspSourceFor(details.redirectUri);
  const agentChoices: SafeHtml[] = active.map(
    (a) =>
      html`<label class="inline"
        ><input type="radio" name="agent" value="${a.record.id}" />
        <span><strong>${a.record.name}</strong><br /><span class="hint">${agentSummary(a.snapshot)}</span></span></label
      >`,
  );
  const body = html` <form method="post" action="/authorize" id="consent">
    <input type="hidden" name="csrf" value="${session.csrf}" />
    <input type="hidden" name="handle" value="${transaction.handle}" />
    <div class="card">
      <h1>Connect an app to Satchel</h1>
      <div class="client">
        <strong id="client-name">${details.clientName}</strong>
        <span class="muted">wants to pay with Lightning as one of your agents.</span>
      </div>
      ${
        details.clientDomain
          ? html`<p>Published by <strong>${details.clientDomain}</strong>.</p>`
          : html`<p class="muted">This app registered itself; its name is not verified.</p>`
      }
      <p>Access will be sent to <strong id="redirect-host">${details.redirectHost}</strong>.</p>
      ${
        details.redirectIsLoopback
          ? html`<p class="notice">
              This sends access to an app on your computer. Continue only if you just started connecting from it.
            </p>`
          : html``
      }
    </div>
    <div class="card">
      <h2>Which agent will it act as?</h2>
      <label class="inline"
        ><input type="radio" name="agent" value="new" checked /> <span><strong>Create a new agent</strong></span></label
      >
      <label for="new_agent_name">New agent's name</label>
      <input
        id="new_agent_name"
        name="new_agent_name"
        type="text"
        maxlength="100"
        value="${details.clientName.slice(0, 100)}"
      />
      <p class="hint">A new agent starts with no balance: fund it from the dashboard or with fund_agent.</p>
      ${
        agentChoices.length
          ? html`<p class="muted">Or one of your agents:</p>
              ${agentChoices}`
          : html``
      }
    </div>
    <div class="card">
      <h2>Limits</h2>
      <p class="hint">Blank keeps an existing agent's limit; for a new agent blank means no limit.</p>
      <div class="grid">
        <div>
          <label for="max_per_payment_sats">Per payment (sats)</label>
          <input id="max_per_payment_sats" name="max_per_payment_sats" type="number" min="0" step="1" />
        </div>
        <div>
          <label for="daily_limit_sats">Per day (sats)</label>
          <input id="daily_limit_sats" name="daily_limit_sats" type="number" min="0" step="1" />
        </div>
        <div>
          <label for="budget_limit_sats">Lifetime budget (sats)</label>
          <input id="budget_limit_sats" name="budget_limit_sats" type="number" min="0" step="1" />
        </div>
        <div>
          <label for="connection_cap_sats">This connection (sats)</label>
          <input id="connection_cap_sats" name="connection_cap_sats" type="number" min="0" step="1" />
          <p class="hint">Most this app may spend through this connection. Blank: no cap.</p>
        </div>
      </div>
      <label for="allowed_hosts">Allowed hosts for paywalled URLs</label>
      <textarea id="allowed_hosts" name="allowed_hosts" placeholder="api.example.com, *.example.org"></textarea>
      <p class="hint">
        Comma or newline separated; blank keeps an existing agent's list, or allows any host for a new agent.
      </p>
    </div>
    <div class="actions">
      <button type="submit" name="decision" value="approve" id="approve">Approve</button>
      <button type="submit" name="decision" value="deny" id="deny" class="secondary">Deny</button>
    </div>
  </form>`;
  return page({
    title: `Authorize ${details.clientName}`,
    body,
    signedIn: session,
    // Chrome applies form-action to the redirect that follows the POST: allow the client's redirect.
    formAction: redirectSource ? [redirectSource] : [],
    headers: transaction.headers,
  });
});

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A whole number of sats from a form field; blank → undefined. */
function satsField(form: Record<string, unknown>, name: string, label: string): Parsed<number | undefined> {
  const raw = typeof form[name] === "string" ? (form[name] as string).trim() : "";
  if (raw === "") return { ok: true, value: undefined };
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > MAX_SATS)
    return { ok: false, error: `${label} must be a whole number of sats.` };
  return { ok: true, value: Number(raw) };
}

function hostsField(form: Record<string, unknown>): Parsed<string[] | undefined> {
  const raw = typeof form.allowed_hosts === "string" ? form.allowed_hosts : "";
  const hosts = raw
    .split(/[\s,]+/)
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if (hosts.length === 0) return { ok: true, value: undefined };
  if (hosts.length > 100) return { ok: false, error: "At most 100 allowed hosts." };
  const bad = hosts.find((h) => h.length > 253 || !HOST.test(h));
  if (bad !== undefined) return { ok: false, error: `"${bad.slice(0, 60)}" is not a host name.` };
  return { ok: true, value: hosts };
}

interface ConsentChoice {
  agent: { existing: string } | { newName: string };
  patch: Partial<BudgetPolicy>;
  connectionCapSats: number | undefined;
}

function parseChoice(form: Record<string, unknown>): Parsed<ConsentChoice> {
  const fields = {
    perPayment: satsField(form, "max_per_payment_sats", "Per payment"),
    daily: satsField(form, "daily_limit_sats", "Per day"),
    lifetime: satsField(form, "budget_limit_sats", "Lifetime budget"),
    cap: satsField(form, "connection_cap_sats", "This connection"),
  };
  for (const f of Object.values(fields)) if (!f.ok) return f;
  const hosts = hostsField(form);
  if (!hosts.ok) return hosts;
  const v = (f: Parsed<number | undefined>) => (f.ok ? f.value : undefined);
  const msat = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
  const patch: Partial<BudgetPolicy> = {};
  if (v(fields.perPayment) !== undefined) patch.maxPerPaymentMsat = msat(v(fields.perPayment))!;
  if (v(fields.daily) !== undefined) patch.dailyLimitMsat = msat(v(fields.daily))!;
  if (v(fields.lifetime) !== undefined) patch.budgetLimitMsat = msat(v(fields.lifetime))!;
  if (hosts.value !== undefined) patch.allowedHosts = hosts.value;
  const agent = form.agent;
  if (agent === "new") {
    const name = typeof form.new_agent_name === "string" ? form.new_agent_name.trim() : "";
    if (name.length < 1 || name.length > 100)
      return { ok: false, error: "Give the new agent a name (up to 100 characters)." };
    return {
      ok: true,
      value: { agent: { newName: name }, patch, connectionCapSats: v(fields.cap) },
    };
  }
  if (typeof agent !== "string" || !/^agt_[0-9a-f]{24}$/.test(agent)) return { ok: false, error: "Choose an agent." };
  return { ok: true, value: { agent: { existing: agent }, patch, connectionCapSats: v(fields.cap) } };
}

consent.post("/authorize", async (c) => {
  const oauth = helpersOf(c);
  if (!oauth) return errorPage(400, "OAuth unavailable", "OAuth needs https (or a loopback address in development).");
  const session = await getSession(c.req.raw, c.env);
  if (!session) return errorPage(401, "Signed out", "Your session ended. Start connecting again from your app.");
  const form = (await c.req.parseBody()) as Record<string, unknown>;
  if (!verifyCsrf(session, form.csrf)) {
    return errorPage(
      403,
      "Forbidden",
      "This form did not come from this page. Start connecting again from your app.",
      session,
    );
  }
  const handle = typeof form.handle === "string" ? form.handle : "";
  if (form.decision !== "approve") {
    try {
      const denied = await oauth.denyConsent(c.req.raw, handle);
      denied.headers.set("cache-control", "no-store");
      return new Response(null, { status: 302, headers: denied.headers });
    } catch (e) {
      return authorizationFailure(e, session);
    }
  }
  // Validate before consuming the single-use handle, so the operator can go back and fix a typo.
  const choice = parseChoice(form);
  if (!choice.ok) return errorPage(400, "Check the form", `${choice.error} Go back and correct it.`, session);
  const operatorId = session.operatorId;
  if ("existing" in choice.value.agent) {
    const agent = await getAgent(c.env.DB, operatorId, choice.value.agent.existing);
    if (agent?.status !== "active")
      return errorPage(400, "Check the form", "That agent does not exist or is disabled.", session);
  }
  let approved;
  try {
    approved = await oauth.approveConsent(c.req.raw, handle, { scope: [OAUTH_SCOPE] });
  } catch (e) {
    return authorizationFailure(e, session);
  }
  const { agent, patch, connectionCapSats } = choice.value;
  let agentId: string;
  let agentName: string;
  if ("existing" in agent) {
    agentId = agent.existing;
    const snapshot = Object.keys(patch).length > 0 ? await setBudget(c.env, agentId, patch) : null;
    agentName = snapshot?.name ?? (await getAgent(c.env.DB, operatorId, agentId))?.name ?? agentId;
  } else {
    // The agent's API key is not shown here: the OAuth token is this connection's credential.
    const request = {
      name: agent.newName,
      policy: {
        maxPerPaymentMsat: patch.maxPerPaymentMsat ?? null,
        dailyLimitMsat: patch.dailyLimitMsat ?? null,
        budgetLimitMsat: patch.budgetLimitMsat ?? null,
        perSessionLimitMsat: null,
        allowedHosts: patch.allowedHosts ?? null,
      },
      initialBalanceMsat: 0,
    };
    const created = await createAgent(c.env, operatorId, request);
    agentId = created.agentId;
    agentName = agent.newName;
  }
  const client = await oauth.lookupClient(approved.request.clientId).catch(() => null);
  const props: GrantProps = {
    kind: "agent",
    via: "oauth",
    operatorId,
    agentId,
    ...(connectionCapSats === undefined ? {} : { connectionCapSats }),
  };
  const { redirectTo } = await oauth.completeAuthorization({
    request: approved.request,
    userId: operatorId,
    // Storage-visible (not encrypted): what the dashboard lists for connected clients. No secrets.
    metadata: {
      agent_id: agentId,
      agent_name: agentName,
      client_name: client?.clientName ?? approved.request.clientId,
      redirect_host: safeHost(approved.request.redirectUri),
      connection_cap_sats: connectionCapSats ?? null,
    },
    scope: [OAUTH_SCOPE],
    props,
  });
  approved.headers.set("location", redirectTo);
  approved.headers.set("cache-control", "no-store");
  return new Response(null, { status: 302, headers: approved.headers });
});

function safeHost(uri: string): string {
  try {
    return new URL(uri).host || uri.slice(0, 100);
  } catch {
    return "";
  }
}
