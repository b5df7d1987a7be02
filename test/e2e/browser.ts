// Shared helpers for the browser tests: Debian's Chromium driven by playwright-core, a WebAuthn
// virtual authenticator, screenshots, an LNURL-auth test wallet and a loopback OAuth callback.
import { existsSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { bech32 } from "@scure/base";
import { chromium } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = join(process.cwd(), "test-results", "screenshots");

/** Headless Chromium; fails loudly (never skips) when Debian's chromium is not installed. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: the browser tests need Debian's chromium (apt-get install -y chromium).`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

type Page = Awaited<ReturnType<Awaited<ReturnType<typeof launchChromium>>["newPage"]>>;

/** Gives the page's browser a platform passkey authenticator that always verifies the user. */
export async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}

/** Writes a full-page screenshot to test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * The base URL on `localhost`: WebAuthn refuses IP addresses as relying party ids, so browser flows
 * (and the OAuth resource they are bound to) use the name, which resolves to the same loopback server.
 */
export function localhostUrl(base: string): string {
  const url = new URL(base);
  url.hostname = "localhost";
  return url.origin;
}

/** An LNURL-auth wallet with one linking key (LUD-05 would derive it per domain). */
export function testWallet() {
  const secret = secp256k1.utils.randomSecretKey();
  const key = bytesToHex(secp256k1.getPublicKey(secret, true));
  return {
    key,
    /** Signs k1 and calls the service back, as a wallet does after the user approves. */
    async login(lnurl: string): Promise<unknown> {
      const { words } = bech32.decode(lnurl.toLowerCase() as `${string}1${string}`, false);
      const url = new URL(new TextDecoder().decode(bech32.fromWords(words)));
      if (url.searchParams.get("tag") !== "login") throw new Error(`not an LNURL-auth URL: ${url}`);
      const k1 = url.searchParams.get("k1")!;
      url.searchParams.set(
        "sig",
        bytesToHex(secp256k1.sign(hexToBytes(k1), secret, { prehash: false, format: "der" })),
      );
      url.searchParams.set("key", key);
      const res = await fetch(url);
      return res.json();
    },
  };
}

/** A loopback HTTP server standing in for an MCP client's OAuth redirect endpoint. */
export async function oauthCallbackServer(): Promise<{
  url: string;
  next(): Promise<URLSearchParams>;
  close(): Promise<void>;
}> {
  const waiting: ((p: URLSearchParams) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    res.writeHead(200, { "content-type": "text/plain" }).end("Signed in. You can close this window.");
    if (url.pathname === "/callback") waiting.shift()?.(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/callback`,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Chromium and an OAuth callback server for the tests of one file: started before them, closed
 * after. Read the fields inside tests (they are set by beforeAll).
 */
export function browserSuite(): {
  readonly browser: Awaited<ReturnType<typeof launchChromium>>;
  readonly callback: Awaited<ReturnType<typeof oauthCallbackServer>>;
} {
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let callback: Awaited<ReturnType<typeof oauthCallbackServer>> | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
    callback = await oauthCallbackServer();
  });
  afterAll(async () => {
    await browser?.close();
    await callback?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error("Chromium is not started yet (use it inside a test)");
      return browser;
    },
    get callback() {
      if (!callback) throw new Error("The OAuth callback server is not started yet (use it inside a test)");
      return callback;
    },
  };
}
