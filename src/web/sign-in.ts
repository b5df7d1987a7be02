import { Hono, type Context } from "hono";
import { DEV_OPERATOR_ID } from "../auth/authenticate";
import {
  completeLnurl,
  handleLnurlCallback,
  LNURL_CALLBACK_PATH,
  lnurlState,
  newLnurlChallenge,
} from "../auth/lnurl-auth";
import {
  authenticationOptions,
  registrationOptions,
  relyingPartyOf,
  verifyAuthentication,
  verifyRegistration,
} from "../auth/passkeys";
import { issueRecoveryCode, redeemRecoveryCode } from "../auth/recovery";
import {
  browserBinding,
  createSession,
  destroySession,
  existingBrowserBinding,
  getSession,
  isSecure,
  preSessionCsrf,
  verifyCsrf,
  verifyPreSessionCsrf,
  type WebSession,
} from "../auth/session";
import { getConfig } from "../config";
import { insertOperator } from "../store/accounts";
import { html, SafeHtml } from "./html";
import { page } from "./layout";
import { encodeQr, qrSvg } from "./qr";

/**
 * Sign-in, sign-up and account recovery for operators: passkeys and LNURL-auth, plus a one-click
 * development sign-in in development mode only. Every form carries a CSRF token: before sign-in a
 * double-submit token bound to the browser cookie (session.ts), after it the session's token.
 */
export const signIn = new Hono<{ Bindings: Env }>();

type C = Context<{ Bindings: Env }>;

/** Where to go after signing in: a local path only, never another site. */
export function safeNext(raw: unknown): string {
  if (typeof raw !== "string" || raw.length > 4000) return "/";
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  return [...raw].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) ? "/" : raw;
}

function withQuery(path: string, next: string): string {
  return next === "/" ? path : `${path}?next=${encodeURIComponent(next)}`;
}

function forbidden(
  message = "This form expired or did not come from this site. Go back, reload the page and try again.",
) {
  return page({
    title: "Forbidden",
    status: 403,
    body: html`<div class="card">
      <h1>Forbidden</h1>
      <p class="error">${message}</p>
    </div>`,
  });
}

function redirect(location: string, setCookies: (string | null)[] = []): Response {
  const headers = new Headers({ location, "cache-control": "no-store" });
  for (const c of setCookies) if (c) headers.append("set-cookie", c);
  return new Response(null, { status: 303, headers });
}

async function signInAs(c: C, operatorId: string): Promise<string> {
  return createSession(c.env, operatorId, isSecure(c.req.raw));
}

/** Client-side helpers for the WebAuthn ceremonies: JSON ⇄ ArrayBuffer, and posting JSON. */
const WEBAUTHN_JS = `
const b64u = {
  toBuf(s) { s = s.replace(/-/g, "+").replace(/_/g, "/"); const bin = atob(s + "===".slice((s.length + 3) % 4)); return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer; },
  fromBuf(b) { let s = ""; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""); },
};
async function postJson(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
  return data;
}
function showStatus(el, text, kind) { el.textContent = text; el.className = "status" + (kind ? " " + kind : ""); }
async function registerPasskey(csrf, name) {
  const { handle, options } = await postJson("/auth/passkey/register/options", { csrf, name });
  const publicKey = { ...options, challenge: b64u.toBuf(options.challenge), user: { ...options.user, id: b64u.toBuf(options.user.id) },
    excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: b64u.toBuf(c.id) })) };
  const cred = await navigator.credentials.create({ publicKey });
  const r = cred.response;
  const response = { id: cred.id, rawId: b64u.fromBuf(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: b64u.fromBuf(r.clientDataJSON), attestationObject: b64u.fromBuf(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] } };
  return postJson("/auth/passkey/register/verify", { csrf, handle, response });
}
async function signInWithPasskey(csrf) {
  const { handle, options } = await postJson("/auth/passkey/login/options", { csrf });
  const publicKey = { ...options, challenge: b64u.toBuf(options.challenge), allowCredentials: (options.allowCredentials || []).map((c) => ({ ...c, id: b64u.toBuf(c.id) })) };
  const cred = await navigator.credentials.get({ publicKey });
  const r = cred.response;
  const response = { id: cred.id, rawId: b64u.fromBuf(cred.rawId), type: cred.type, authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: b64u.fromBuf(r.clientDataJSON), authenticatorData: b64u.fromBuf(r.authenticatorData), signature: b64u.fromBuf(r.signature),
      userHandle: r.userHandle ? b64u.fromBuf(r.userHandle) : undefined } };
  return postJson("/auth/passkey/login/verify", { csrf, handle, response });
}
`;

const SIGN_IN_JS = `${WEBAUTHN_JS}
const root = document.getElementById("sign-in");
const csrf = root.dataset.csrf, next = root.dataset.next;
const pkStatus = document.getElementById("passkey-status");
document.getElementById("passkey-sign-in").addEventListener("click", async () => {
  showStatus(pkStatus, "Waiting for your passkey…");
  try { await signInWithPasskey(csrf); showStatus(pkStatus, "Signed in.", "ok"); location.assign(next); }
  catch (e) { showStatus(pkStatus, "Passkey sign-in failed: " + e.message, "bad"); }
});
const ln = document.getElementById("lnurl");
if (ln) {
  const lnStatus = document.getElementById("lnurl-status");
  const poll = async () => {
    try {
      const res = await fetch("/auth/lnurl/status?k1=" + encodeURIComponent(ln.dataset.k1), { credentials: "same-origin", cache: "no-store" });
      const { state } = await res.json();
      if (state === "verified") { showStatus(lnStatus, "Signature verified. Signing you in…", "ok"); document.getElementById("lnurl-complete").submit(); return; }
      if (state === "expired" || state === "unknown") { showStatus(lnStatus, "This code expired. Reload the page for a new one.", "bad"); return; }
    } catch (e) { /* network blip: keep polling */ }
    setTimeout(poll, 1500);
  };
  poll();
}
`;

const SIGN_UP_JS = `${WEBAUTHN_JS}
const root = document.getElementById("sign-up");
const csrf = root.dataset.csrf;
const status = document.getElementById("sign-up-status");
document.getElementById("sign-up-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = document.getElementById("name").value.trim();
  if (!name) { showStatus(status, "Enter a name for your account.", "bad"); return; }
  showStatus(status, "Follow your browser's prompt to create a passkey…");
  try {
    const { recoveryCode } = await registerPasskey(csrf, name);
    document.getElementById("sign-up-card").hidden = true;
    document.getElementById("recovery-code").textContent = recoveryCode;
    document.getElementById("recovery").hidden = false;
  } catch (e) { showStatus(status, "Could not create the passkey: " + e.message, "bad"); }
});
`;

const ADD_PASSKEY_JS = `${WEBAUTHN_JS}
const root = document.getElementById("add-passkey");
const status = document.getElementById("add-passkey-status");
document.getElementById("add-passkey-button").addEventListener("click", async () => {
  showStatus(status, "Follow your browser's prompt to create a passkey…");
  try { await registerPasskey(root.dataset.csrf); showStatus(status, "Passkey registered. You can sign in with it from now on.", "ok"); }
  catch (e) { showStatus(status, "Could not register the passkey: " + e.message, "bad"); }
});
`;

signIn.get("/sign-in", async (c) => {
  const next = safeNext(c.req.query("next"));
  const binding = browserBinding(c.req.raw);
  const csrf = preSessionCsrf(binding);
  const origin = new URL(c.req.url).origin;
  const { k1, lnurl } = await newLnurlChallenge(c.env, origin, binding.hash);
  const qr = new SafeHtml(qrSvg(encodeQr(lnurl), "LNURL-auth QR code"));
  const development = getConfig(c.env).development;
  const body = html` <div id="sign-in" data-csrf="${csrf}" data-next="${next}">
    <div class="card">
      <h1>Sign in to Satchel</h1>
      <p class="lead">Manage your agents' Lightning budgets and approve MCP clients.</p>
      <div class="actions"><button id="passkey-sign-in" type="button">Sign in with a passkey</button></div>
      <p id="passkey-status" class="status"></p>
      <noscript><p class="notice">Passkeys need JavaScript. Lightning wallet sign-in works without it.</p></noscript>
    </div>
    <div class="card" id="lnurl" data-k1="${k1}">
      <h2>Or sign in with a Lightning wallet</h2>
      <p class="muted">
        Scan with a wallet that supports LNURL-auth. A wallet that has never signed in here creates a new account.
      </p>
      <div class="qr">${qr}</div>
      <p><a class="button secondary" href="lightning:${lnurl}">Open in wallet</a></p>
      <p class="lnurl">${lnurl}</p>
      <p id="lnurl-status" class="status">Waiting for your wallet…</p>
      <form id="lnurl-complete" method="post" action="/auth/lnurl/complete">
        <input type="hidden" name="csrf" value="${csrf}" />
        <input type="hidden" name="k1" value="${k1}" />
        <input type="hidden" name="next" value="${next}" />
        <noscript><button type="submit">I approved it in my wallet: continue</button></noscript>
      </form>
    </div>
    <div class="card">
      <p>New here? <a href="${withQuery("/sign-up", next)}">Create an account with a passkey</a>.</p>
      <p>
        Lost your passkey or wallet? <a href="${withQuery("/recover", next)}">Recover your account</a> with your
        recovery code.
      </p>
    </div>
    ${
      development
        ? html`<div class="card dev">
            <h2>Development mode</h2>
            <p class="muted">This server runs with SATCHEL_ENV=development. Production has no such button.</p>
            <form method="post" action="/auth/dev">
              <input type="hidden" name="csrf" value="${csrf}" />
              <input type="hidden" name="next" value="${next}" />
              <button class="danger" type="submit">Dev sign-in (development operator)</button>
            </form>
          </div>`
        : html``
    }
  </div>`;
  return page({
    title: "Sign in",
    body,
    script: SIGN_IN_JS,
    headers: binding.setCookie ? { "set-cookie": binding.setCookie } : {},
  });
});

signIn.get("/sign-up", (c) => {
  const next = safeNext(c.req.query("next"));
  const binding = browserBinding(c.req.raw);
  const body = html` <div id="sign-up" data-csrf="${preSessionCsrf(binding)}">
    <div class="card" id="sign-up-card">
      <h1>Create your Satchel account</h1>
      <p class="lead">Your account is protected by a passkey on this device: no password, no third party.</p>
      <form id="sign-up-form">
        <label for="name">Account name</label>
        <input
          id="name"
          name="name"
          type="text"
          maxlength="80"
          autocomplete="nickname"
          placeholder="e.g. Ada's agents"
          required
        />
        <div class="actions"><button type="submit">Create account with a passkey</button></div>
      </form>
      <p id="sign-up-status" class="status"></p>
      <noscript
        ><p class="notice">
          Creating a passkey needs JavaScript.
          <a href="${withQuery("/sign-in", next)}">Sign in with a Lightning wallet</a> instead.
        </p></noscript
      >
      <p class="muted">
        Prefer a Lightning wallet? <a href="${withQuery("/sign-in", next)}">Sign in with LNURL-auth</a>: a new wallet
        creates an account.
      </p>
    </div>
    <div class="card" id="recovery" hidden>
      <h1>Save your recovery code</h1>
      <p>
        If you lose this device, this code is the only way back into your account. It is shown <strong>once</strong>;
        Satchel keeps only a hash of it.
      </p>
      <p class="code" id="recovery-code"></p>
      <div class="actions"><a class="button" id="continue" href="${next}">I saved it: continue</a></div>
    </div>
  </div>`;
  return page({
    title: "Create account",
    body,
    script: SIGN_UP_JS,
    headers: binding.setCookie ? { "set-cookie": binding.setCookie } : {},
  });
});

signIn.get("/recover", (c) => {
  const next = safeNext(c.req.query("next"));
  const binding = browserBinding(c.req.raw);
  return page({
    title: "Recover account",
    headers: binding.setCookie ? { "set-cookie": binding.setCookie } : {},
    body: html`<div class="card">
      <h1>Recover your account</h1>
      <p class="lead">Enter the recovery code you saved when you created your account.</p>
      <form method="post" action="/recover">
        <input type="hidden" name="csrf" value="${preSessionCsrf(binding)}" />
        <input type="hidden" name="next" value="${next}" />
        <label for="code">Recovery code</label>
        <input
          id="code"
          name="code"
          type="text"
          autocomplete="off"
          spellcheck="false"
          placeholder="XXXXXX-XXXXXX-XXXXXX-XXXXXX"
          required
        />
        <div class="actions"><button type="submit">Recover</button></div>
      </form>
    </div>`,
  });
});

signIn.post("/recover", async (c) => {
  const form = await c.req.parseBody();
  if (!verifyPreSessionCsrf(c.req.raw, form.csrf)) return forbidden();
  const next = safeNext(form.next);
  const operatorId = typeof form.code === "string" ? await redeemRecoveryCode(c.env, form.code) : null;
  if (!operatorId) {
    return page({
      title: "Recover account",
      status: 400,
      body: html`<div class="card">
        <h1>Recover your account</h1>
        <p class="error">That recovery code is not valid (or was already used).</p>
        <p><a href="${withQuery("/recover", next)}">Try again</a></p>
      </div>`,
    });
  }
  const cookie = await signInAs(c, operatorId);
  const session = await sessionFromCookie(c, cookie);
  const newCode = await issueRecoveryCode(c.env, operatorId);
  return page({
    title: "Account recovered",
    headers: { "set-cookie": cookie },
    signedIn: session ?? undefined,
    script: ADD_PASSKEY_JS,
    body: html`<div class="card" id="add-passkey" data-csrf="${session?.csrf ?? ""}">
      <h1>You are signed in</h1>
      <p>Your old recovery code no longer works. Here is your new one, shown <strong>once</strong>:</p>
      <p class="code" id="recovery-code">${newCode}</p>
      <h2>Register a new passkey</h2>
      <p class="muted">So you can sign in on this device next time.</p>
      <div class="actions">
        <button id="add-passkey-button" type="button">Register a passkey</button>
        <a class="button secondary" href="${next}">Continue</a>
      </div>
      <p id="add-passkey-status" class="status"></p>
    </div>`,
  });
});

/** Reads back the session a Set-Cookie we just made names (to render its CSRF token right away). */
async function sessionFromCookie(c: C, setCookie: string): Promise<WebSession | null> {
  const pair = setCookie.split(";")[0]!;
  return getSession(new Request(c.req.url, { headers: { cookie: pair } }), c.env);
}

signIn.post("/auth/dev", async (c) => {
  if (!getConfig(c.env).development) return c.text("Not found", 404);
  const form = await c.req.parseBody();
  if (!verifyPreSessionCsrf(c.req.raw, form.csrf)) return forbidden();
  await insertOperator(c.env.DB, { id: DEV_OPERATOR_ID, name: "Development operator", createdAt: Date.now() });
  return redirect(safeNext(form.next), [await signInAs(c, DEV_OPERATOR_ID)]);
});

signIn.post("/sign-out", async (c) => {
  const session = await getSession(c.req.raw, c.env);
  const form = await c.req.parseBody();
  if (!session) return redirect("/sign-in");
  if (!verifyCsrf(session, form.csrf)) return forbidden();
  return redirect("/sign-in", [await destroySession(c.env, session, isSecure(c.req.raw))]);
});

// LNURL-auth: the wallet's callback (JSON for the wallet), the page's poll, and the finish.
signIn.get(LNURL_CALLBACK_PATH, async (c) => {
  const reply = await handleLnurlCallback(c.env, new URL(c.req.url).searchParams);
  return c.json(reply, 200, { "cache-control": "no-store", "access-control-allow-origin": "*" });
});

signIn.get("/auth/lnurl/status", async (c) => {
  const binding = existingBrowserBinding(c.req.raw);
  const state = binding ? await lnurlState(c.env, c.req.query("k1") ?? "", binding.hash) : "unknown";
  return c.json({ state }, 200, { "cache-control": "no-store" });
});

signIn.post("/auth/lnurl/complete", async (c) => {
  const form = await c.req.parseBody();
  if (!verifyPreSessionCsrf(c.req.raw, form.csrf)) return forbidden();
  const binding = existingBrowserBinding(c.req.raw)!;
  const next = safeNext(form.next);
  const done = typeof form.k1 === "string" ? await completeLnurl(c.env, form.k1, binding.hash) : null;
  if (!done) {
    return page({
      title: "Sign in",
      status: 400,
      body: html`<div class="card">
        <h1>Not signed in yet</h1>
        <p class="error">Your wallet has not signed this code, or it expired or was already used.</p>
        <p><a href="${withQuery("/sign-in", next)}">Back to sign-in</a></p>
      </div>`,
    });
  }
  const cookie = await signInAs(c, done.operatorId);
  if (!done.recoveryCode) return redirect(next, [cookie]);
  const session = await sessionFromCookie(c, cookie);
  return page({
    title: "Welcome",
    headers: { "set-cookie": cookie },
    signedIn: session ?? undefined,
    body: html`<div class="card" id="recovery">
      <h1>Welcome to Satchel</h1>
      <p>
        Your Lightning wallet created a new account. If you lose access to that wallet, this recovery code is the only
        way back in. It is shown <strong>once</strong>; Satchel keeps only a hash of it.
      </p>
      <p class="code" id="recovery-code">${done.recoveryCode}</p>
      <div class="actions"><a class="button" id="continue" href="${next}">I saved it: continue</a></div>
    </div>`,
  });
});

// Passkeys: JSON endpoints used by the pages' scripts.
async function jsonBody(c: C): Promise<Record<string, unknown>> {
  const body = (await c.req.json().catch(() => null)) as unknown;
  return body && typeof body === "object" ? (body as Record<string, unknown>) : {};
}

signIn.post("/auth/passkey/register/options", async (c) => {
  const body = await jsonBody(c);
  const binding = existingBrowserBinding(c.req.raw);
  if (!binding) return c.json({ error: "reload the page" }, 403);
  const session = await getSession(c.req.raw, c.env);
  const rp = relyingPartyOf(c.req.raw);
  if (session && verifyCsrf(session, body.csrf)) {
    // A signed-in operator adding a passkey (after recovery, or a new device).
    return c.json(await registrationOptions(c.env, rp, binding.hash, { operatorId: session.operatorId }));
  }
  if (!verifyPreSessionCsrf(c.req.raw, body.csrf)) return c.json({ error: "invalid CSRF token" }, 403);
  const name = typeof body.name === "string" ? body.name.trim().slice(0, 80) : "";
  if (!name) return c.json({ error: "a name is required" }, 400);
  return c.json(await registrationOptions(c.env, rp, binding.hash, { newOperatorName: name }));
});

signIn.post("/auth/passkey/register/verify", async (c) => {
  const body = await jsonBody(c);
  const binding = existingBrowserBinding(c.req.raw);
  const session = await getSession(c.req.raw, c.env);
  const csrfOk = (session && verifyCsrf(session, body.csrf)) || verifyPreSessionCsrf(c.req.raw, body.csrf);
  if (!binding || !csrfOk) return c.json({ error: "invalid CSRF token" }, 403);
  const result = await verifyRegistration(
    c.env,
    relyingPartyOf(c.req.raw),
    binding.hash,
    String(body.handle ?? ""),
    body.response as Parameters<typeof verifyRegistration>[4],
  );
  if (!result) return c.json({ error: "the passkey could not be verified" }, 400);
  if (!result.recoveryCode) return c.json({ ok: true });
  // A new operator: signed in at once; the recovery code goes to the page, which shows it once.
  const cookie = await signInAs(c, result.operatorId);
  return c.json({ ok: true, recoveryCode: result.recoveryCode }, 200, {
    "set-cookie": cookie,
    "cache-control": "no-store",
  });
});

signIn.post("/auth/passkey/login/options", async (c) => {
  const body = await jsonBody(c);
  const binding = existingBrowserBinding(c.req.raw);
  if (!binding || !verifyPreSessionCsrf(c.req.raw, body.csrf)) return c.json({ error: "invalid CSRF token" }, 403);
  return c.json(await authenticationOptions(c.env, relyingPartyOf(c.req.raw), binding.hash));
});

signIn.post("/auth/passkey/login/verify", async (c) => {
  const body = await jsonBody(c);
  const binding = existingBrowserBinding(c.req.raw);
  if (!binding || !verifyPreSessionCsrf(c.req.raw, body.csrf)) return c.json({ error: "invalid CSRF token" }, 403);
  const operatorId = await verifyAuthentication(
    c.env,
    relyingPartyOf(c.req.raw),
    binding.hash,
    String(body.handle ?? ""),
    body.response as Parameters<typeof verifyAuthentication>[4],
  );
  if (!operatorId)
    return c.json({ error: "this passkey is not registered here, or the signature did not verify" }, 400);
  return c.json({ ok: true }, 200, { "set-cookie": await signInAs(c, operatorId), "cache-control": "no-store" });
});
