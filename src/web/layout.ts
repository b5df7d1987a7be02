import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { html, SafeHtml, securityHeaders } from "./html";

/** Options for one server-rendered page. */
export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** Trusted script text written in this codebase (never user data); runs under the page's nonce. */
  script?: string;
  /** Extra CSP form-action sources, e.g. the OAuth client's redirect origin on the consent page. */
  formAction?: string[];
  status?: number;
  headers?: HeadersInit;
  /** Shown in the header when someone is signed in. */
  signedIn?: { csrf: string };
}

const STYLE = `
:root { --fg:#1d1d1f; --muted:#6e6e73; --line:#e3e3e8; --bg:#f6f6f8; --card:#fff; --accent:#f7931a; --accent-dark:#c26d00; --danger:#b3261e; --ok:#1e7b34; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; align-items:center; justify-content:space-between; padding:14px 24px; background:var(--card); border-bottom:1px solid var(--line); }
header.top .brand { font-weight:700; font-size:18px; color:var(--fg); text-decoration:none; }
header.top .brand span { color:var(--accent); }
main { max-width:640px; margin:32px auto; padding:0 16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:24px; margin-bottom:20px; }
h1 { font-size:22px; margin:0 0 8px; }
h2 { font-size:17px; margin:0 0 12px; }
p.lead, .muted { color:var(--muted); }
label { display:block; font-weight:600; margin:14px 0 4px; }
label.inline { display:flex; gap:8px; align-items:center; font-weight:400; margin:8px 0; }
input[type=text], input[type=number], textarea, select { width:100%; padding:9px 11px; border:1px solid var(--line); border-radius:8px; font:inherit; background:#fff; }
textarea { min-height:64px; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:0 16px; }
.hint { font-size:13px; color:var(--muted); margin-top:2px; }
button, .button { display:inline-block; padding:10px 18px; border-radius:8px; border:1px solid var(--accent-dark); background:var(--accent); color:#fff; font:inherit; font-weight:600; cursor:pointer; text-decoration:none; }
button.secondary, .button.secondary { background:#fff; color:var(--fg); border-color:var(--line); }
button.danger { background:#fff; color:var(--danger); border-color:var(--danger); }
button.link { background:none; border:none; color:var(--muted); padding:0; font-weight:400; text-decoration:underline; }
.actions { display:flex; gap:12px; margin-top:20px; flex-wrap:wrap; }
.notice { padding:10px 14px; border-radius:8px; background:#fff4e5; border:1px solid #f5c27a; margin:12px 0; }
.error { padding:10px 14px; border-radius:8px; background:#fdecea; border:1px solid #f1a9a3; color:var(--danger); margin:12px 0; }
.dev { border:2px dashed var(--danger); }
.dev h2 { color:var(--danger); }
.code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:20px; letter-spacing:1px; background:var(--bg); padding:14px; border-radius:8px; text-align:center; word-break:break-all; }
.qr { display:flex; justify-content:center; margin:12px 0; }
.qr svg { width:240px; height:240px; }
.lnurl { font-family: ui-monospace, monospace; font-size:11px; word-break:break-all; color:var(--muted); }
.status { font-size:14px; color:var(--muted); }
.status.ok { color:var(--ok); }
.status.bad { color:var(--danger); }
.client { display:flex; gap:12px; align-items:baseline; flex-wrap:wrap; }
.client strong { font-size:18px; }
fieldset { border:1px solid var(--line); border-radius:10px; padding:8px 16px 16px; margin:16px 0; }
legend { font-weight:700; padding:0 6px; }
`;

/** A fresh per-response nonce for the CSP. */
export function newNonce(): string {
  return bytesToHex(randomBytes(16));
}

/** A CSP source for an OAuth redirect URI, or null when it cannot be expressed safely. */
export function cspSourceFor(redirectUri: string): string | null {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return null;
  }
  const source = url.protocol === "http:" || url.protocol === "https:" ? url.origin : url.protocol;
  return /^[a-z][a-z0-9+.-]*:(\/\/[a-z0-9.[\]:-]+)?$/i.test(source) ? source : null;
}

/** Renders a full HTML page with Satchel's security headers. */
export function page(opts: PageOptions): Response {
  const nonce = newNonce();
  const headers = new Headers(securityHeaders(nonce));
  if (opts.formAction?.length) {
    const csp = headers.get("content-security-policy")!;
    headers.set(
      "content-security-policy",
      csp.replace("form-action 'self'", `form-action 'self' ${opts.formAction.join(" ")}`),
    );
  }
  // Callers' headers win, cookies add up, and our CSP stays: the OAuth library's consent headers
  // bring `frame-ancestors 'none'`, which ours already has, and would otherwise replace the rest.
  new Headers(opts.headers).forEach((v, k) => {
    if (k === "set-cookie") headers.append(k, v);
    else if (k !== "content-security-policy") headers.set(k, v);
  });
  const signOut = opts.signedIn
    ? html`<form method="post" action="/sign-out">
        <input type="hidden" name="csrf" value="${opts.signedIn.csrf}" /><button class="link" type="submit">
          Sign out
        </button>
      </form>`
    : html``;
  const doc = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${opts.title} · Satchel</title>
        <style nonce="${nonce}">
          ${new SafeHtml(STYLE)}
        </style>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/"><span>⚡</span> Satchel</a>${signOut}
        </header>
        <main>${opts.body}</main>
        ${
          opts.script
            ? html`<script nonce="${nonce}">
                ${new SafeHtml(opts.script)};
              </script>`
            : html``
        }
      </body>
    </html>`;
  return new Response(doc.value, { status: opts.status ?? 200, headers });
}
