// Passkey sign-up and sign-in against the real Worker entry, with a software authenticator (ES256,
// "none" attestation) built here, so the ceremonies' refusals can be tested without a browser.
// Chromium's virtual authenticator covers the happy path end to end (test/e2e).
import { env, SELF } from "cloudflare:test";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";

const ORIGIN = "http://localhost";

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Just enough CBOR (RFC 8949) for an attestation object and a COSE key. */
function cbor(value: unknown): Uint8Array {
  const head = (major: number, n: number): Uint8Array => {
    if (n < 24) return Uint8Array.of((major << 5) | n);
    if (n < 256) return Uint8Array.of((major << 5) | 24, n);
    return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff);
  };
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") return concatBytes(head(3, utf8ToBytes(value).length), utf8ToBytes(value));
  if (value instanceof Uint8Array) return concatBytes(head(2, value.length), value);
  if (value instanceof Map) {
    const parts = [...value].flatMap(([k, v]) => [cbor(k), cbor(v)]);
    return concatBytes(head(5, value.size), ...parts);
  }
  throw new Error("unsupported CBOR value");
}

/** A platform authenticator holding one ES256 passkey per registration. */
function softAuthenticator() {
  const secret = p256.utils.randomSecretKey();
  const pub = p256.getPublicKey(secret, false); // 0x04 || x || y
  const credentialId = randomBytes(16);
  let counter = 0;
  const rpIdHash = (rpId: string) => sha256(utf8ToBytes(rpId));
  const clientData = (type: string, challenge: string, origin: string) =>
    utf8ToBytes(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  return {
    id: b64url(credentialId),
    create(options: { challenge: string; rp: { id: string } }, origin = ORIGIN) {
      const coseKey = cbor(
        new Map<number, unknown>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, pub.slice(1, 33)],
          [-3, pub.slice(33)],
        ]),
      );
      const authData = concatBytes(
        rpIdHash(options.rp.id),
        Uint8Array.of(0x45), // UP | UV | AT
        Uint8Array.of(0, 0, 0, 0),
        new Uint8Array(16), // AAGUID
        Uint8Array.of(0, credentialId.length),
        credentialId,
        coseKey,
      );
      const attestationObject = cbor(
        new Map<string, unknown>([
          ["fmt", "none"],
          ["attStmt", new Map()],
          ["authData", authData],
        ]),
      );
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: "public-key",
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientData("webauthn.create", options.challenge, origin)),
          attestationObject: b64url(attestationObject),
          transports: ["internal"],
        },
      };
    },
    get(options: { challenge: string; rpId: string }, origin = ORIGIN) {
      counter++;
      const authData = concatBytes(
        rpIdHash(options.rpId),
        Uint8Array.of(0x05), // UP | UV
        Uint8Array.of(0, 0, 0, counter),
      );
      const cd = clientData("webauthn.get", options.challenge, origin);
      const signature = p256.sign(concatBytes(authData, sha256(cd)), secret, { format: "der" });
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: "public-key",
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(cd),
          authenticatorData: b64url(authData),
          signature: b64url(signature),
        },
      };
    },
  };
}

/** A browser's cookies and the pre-session CSRF token of the sign-up page. */
class Browser {
  cookies = new Map<string, string>();
  csrf = "";

  async open(path = "/sign-up"): Promise<this> {
    const page = await (await this.fetch(path)).text();
    this.csrf = /data-csrf="([0-9a-f]{64})"/.exec(page)![1]!;
    return this;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await SELF.fetch(`${ORIGIN}${path}`, { ...init, headers, redirect: "manual" });
    const h = res.headers as Headers & { getSetCookie?: () => string[] };
    for (const c of h.getSetCookie?.() ?? []) {
      const pair = c.split(";")[0]!;
      const i = pair.indexOf("=");
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }

  post(path: string, body: Record<string, unknown>): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ csrf: this.csrf, ...body }),
    });
  }
}

async function signUp(b: Browser, auth: ReturnType<typeof softAuthenticator>, name = "Passkey operator") {
  const opts = await b.post("/auth/passkey/register/options", { name });
  expect(opts.status).toBe(200);
  const { handle, options } = await opts.json<{ handle: string; options: { challenge: string; rp: { id: string } } }>();
  expect(options.rp.id).toBe("localhost");
  return b.post("/auth/passkey/register/verify", { handle, response: auth.create(options) });
}

async function loginOptions(b: Browser) {
  const res = await b.post("/auth/passkey/login/options", {});
  expect(res.status).toBe(200);
  return res.json<{ handle: string; options: { challenge: string; rpId: string } }>();
}

describe("passkeys", () => {
  it("signs up (operator, passkey, recovery code, session) and signs in again", async () => {
    const auth = softAuthenticator();
    const b = await new Browser().open();
    const res = await signUp(b, auth);
    expect(res.status).toBe(200);
    const { recoveryCode } = await res.json<{ recoveryCode: string }>();
    expect(recoveryCode).toMatch(/^[A-Z2-7]{6}(-[A-Z2-7]{6}){3}$/);
    expect(b.cookies.has("satchel_session")).toBe(true);
    const row = await env.DB.prepare("SELECT operator_id, counter FROM passkeys WHERE id = ?")
      .bind(auth.id)
      .first<{ operator_id: string }>();
    expect(row?.operator_id).toMatch(/^opr_/);

    const other = await new Browser().open("/sign-in");
    const { handle, options } = await loginOptions(other);
    const login = await other.post("/auth/passkey/login/verify", { handle, response: auth.get(options) });
    expect(login.status).toBe(200);
    expect(other.cookies.has("satchel_session")).toBe(true);
  });

  it("refuses a replayed, foreign-origin, other-browser or unknown-credential sign-in", async () => {
    const auth = softAuthenticator();
    const b = await new Browser().open();
    expect((await signUp(b, auth)).status).toBe(200);

    const a = await new Browser().open("/sign-in");
    const first = await loginOptions(a);
    const response = auth.get(first.options);
    expect((await a.post("/auth/passkey/login/verify", { handle: first.handle, response })).status).toBe(200);
    // The same signed response again: the challenge is spent.
    expect((await a.post("/auth/passkey/login/verify", { handle: first.handle, response })).status).toBe(400);

    // Signed for another origin (a phishing site relaying the challenge).
    const second = await loginOptions(a);
    const phished = auth.get(second.options, "https://satchel.evil.example");
    expect((await a.post("/auth/passkey/login/verify", { handle: second.handle, response: phished })).status).toBe(400);

    // A ceremony started in one browser cannot be finished in another.
    const third = await loginOptions(a);
    const thief = await new Browser().open("/sign-in");
    const stolen = auth.get(third.options);
    expect((await thief.post("/auth/passkey/login/verify", { handle: third.handle, response: stolen })).status).toBe(
      400,
    );

    // A passkey this server never registered.
    const stranger = softAuthenticator();
    const fourth = await loginOptions(a);
    const unknown = stranger.get(fourth.options);
    expect((await a.post("/auth/passkey/login/verify", { handle: fourth.handle, response: unknown })).status).toBe(400);
  });

  it("needs the browser cookie and the CSRF token on every ceremony endpoint", async () => {
    const noCookie = new Browser();
    noCookie.csrf = "0".repeat(64);
    for (const path of [
      "/auth/passkey/register/options",
      "/auth/passkey/login/options",
      "/auth/passkey/login/verify",
    ]) {
      expect((await noCookie.post(path, { name: "x" })).status, path).toBe(403);
    }
    const b = await new Browser().open();
    const real = b.csrf;
    b.csrf = "f".repeat(64);
    expect((await b.post("/auth/passkey/register/options", { name: "x" })).status).toBe(403);
    expect((await b.post("/auth/passkey/login/options", {})).status).toBe(403);
    b.csrf = real;
    expect((await b.post("/auth/passkey/register/options", { name: "" })).status).toBe(400);
  });

  it("a signed-in operator (after recovery) adds a passkey to the same account", async () => {
    const auth = softAuthenticator();
    const b = await new Browser().open();
    expect((await signUp(b, auth)).status).toBe(200);
    const operator = await env.DB.prepare("SELECT operator_id FROM passkeys WHERE id = ?")
      .bind(auth.id)
      .first<{ operator_id: string }>();
    // With the session's CSRF token (as the recovery page embeds it) it registers for that operator.
    const session = await env.DB.prepare("SELECT csrf_token FROM web_sessions WHERE operator_id = ?")
      .bind(operator!.operator_id)
      .first<{ csrf_token: string }>();
    b.csrf = session!.csrf_token;
    const second = softAuthenticator();
    const opts = await b.post("/auth/passkey/register/options", {});
    const { handle, options } = await opts.json<{
      handle: string;
      options: { challenge: string; rp: { id: string } };
    }>();
    const res = await b.post("/auth/passkey/register/verify", { handle, response: second.create(options) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const rows = await env.DB.prepare("SELECT operator_id FROM passkeys WHERE id IN (?, ?)")
      .bind(auth.id, second.id)
      .all<{ operator_id: string }>();
    expect(rows.results.map((r) => r.operator_id)).toEqual([operator!.operator_id, operator!.operator_id]);
  });
});
