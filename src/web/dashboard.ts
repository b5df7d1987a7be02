// PLACEHOLDER: the dashboard helper replaces this file (the operator's dashboard at `/`).
import { Hono } from "hono";
import { getSession } from "../auth/session";
import { html } from "./html";
import { page } from "./layout";

export const dashboard = new Hono<{ Bindings: Env }>();

dashboard.get("/", async (c) => {
  const session = await getSession(c.req.raw, c.env);
  if (!session) return c.redirect("/sign-in", 302);
  return page({
    title: "Dashboard",
    signedIn: session,
    body: html`<div class="card">
      <h1>Dashboard</h1>
      <p class="muted">Signed in as ${session.operatorId}.</p>
    </div>`,
  });
});
