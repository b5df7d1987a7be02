import { Hono } from "hono";
import { consent } from "./consent";
import { dashboard } from "./dashboard";
import { demo } from "./demo";
import { dev } from "./dev";
import { html } from "./html";
import { page } from "./layout";
import { signIn } from "./sign-in";

/**
 * Everything that is not the OAuth protocol or the MCP transports: the OAuth provider's
 * defaultHandler (src/index.ts). Pages are server-rendered, escaped with `html`, and carry strict
 * security headers (layout.ts).
 */
export const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true, service: "satchel" }, 200, { "cache-control": "no-store" }));

// Sign-in, sign-up, recovery, LNURL-auth and passkey endpoints.
app.route("/", signIn);
// The OAuth consent page (/authorize).
app.route("/", consent);
// Development-only helpers (/dev/*), 404 in production.
app.route("/dev", dev);
// Demo paywalls (/demo/*, development only): pay_l402_api has something to pay on localhost.
app.route("/", demo);

// ── Dashboard ─────────────────────────────────────────────────────────────────────────────────
// The operator's dashboard (`/` and below) is mounted here; src/web/dashboard.ts owns its routes.
app.route("/", dashboard);
// ──────────────────────────────────────────────────────────────────────────────────────────────

app.notFound(() =>
  page({
    title: "Not found",
    status: 404,
    body: html`<div class="card">
      <h1>Not found</h1>
      <p><a href="/">Home</a></p>
    </div>`,
  }),
);

app.onError((err) => {
  // The error's name only: messages can carry request data.
  console.error(`web error: ${err.name}`);
  return page({
    title: "Error",
    status: 500,
    body: html`<div class="card">
      <h1>Something went wrong</h1>
      <p class="muted">Try again.</p>
    </div>`,
  });
});
