// Chromium drives the sign-in pages of the running server: LNURL-auth with a test wallet (the page
// polls and completes on its own), account recovery with the recovery code, registering a new
// passkey after recovery, and signing in with that passkey.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { addVirtualAuthenticator, launchChromium, localhostUrl, screenshot, testWallet } from "./browser";

const BASE = localhostUrl(inject("satchelUrl"));

let browser: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("sign-in pages in Chromium", () => {
  it("LNURL-auth: the page completes once the wallet has signed; recovery then adds a passkey", async () => {
    const wallet = testWallet();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE}/sign-in?next=%2F`);
    const lnurl = (await page.textContent(".lnurl"))!.trim();
    expect(lnurl).toMatch(/^LNURL1[0-9A-Z]+$/);
    expect(await page.getAttribute("a[href^='lightning:']", "href")).toBe(`lightning:${lnurl}`);
    await screenshot(page, "sign-in-lnurl");

    // The wallet signs k1 with its linking key and calls back; the page notices by polling.
    expect(await wallet.login(lnurl)).toEqual({ status: "OK" });
    await page.locator("#recovery-code").waitFor();
    expect(await page.textContent("h1")).toBe("Welcome to Satchel");
    const code = (await page.textContent("#recovery-code"))!;
    expect(code).toMatch(/^[A-Z2-7]{6}(-[A-Z2-7]{6}){3}$/);
    await screenshot(page, "sign-up-lnurl-recovery-code");
    await context.close();

    // Lost the wallet: recover with the code in a fresh browser, then register a passkey there.
    const fresh = await browser.newContext();
    const p2 = await fresh.newPage();
    await addVirtualAuthenticator(p2);
    await p2.goto(`${BASE}/sign-in`);
    await p2.getByRole("link", { name: "Recover your account" }).click();
    await p2.fill("#code", code.toLowerCase());
    await p2.getByRole("button", { name: "Recover" }).click();
    await p2.locator("#add-passkey").waitFor();
    const newCode = (await p2.textContent("#recovery-code"))!;
    expect(newCode).not.toBe(code);
    await p2.getByRole("button", { name: "Register a passkey" }).click();
    await p2.locator("#add-passkey-status.ok").waitFor();
    await screenshot(p2, "recovered-passkey-registered");

    // The old code is spent.
    const spent = await fresh.newPage();
    await spent.goto(`${BASE}/recover`);
    await spent.fill("#code", code);
    await spent.getByRole("button", { name: "Recover" }).click();
    await spent.locator(".error").waitFor();
    await spent.close();

    // Sign out, then sign in with the new passkey (same virtual authenticator).
    await p2.getByRole("button", { name: "Sign out" }).click();
    await p2.waitForURL(/\/sign-in/);
    await p2.getByRole("button", { name: "Sign in with a passkey" }).click();
    await p2.waitForURL((url) => url.pathname === "/");
    expect((await fresh.cookies()).some((c) => c.name === "satchel_session")).toBe(true);
    await fresh.close();
  });

  it("a second LNURL-auth sign-in with the same wallet reaches the same account without a new code", async () => {
    const wallet = testWallet();
    const first = await browser.newContext();
    const p1 = await first.newPage();
    await p1.goto(`${BASE}/sign-in`);
    await wallet.login((await p1.textContent(".lnurl"))!.trim());
    await p1.locator("#recovery-code").waitFor();
    await first.close();

    const second = await browser.newContext();
    const p2 = await second.newPage();
    await p2.goto(`${BASE}/sign-in?next=%2F`);
    await wallet.login((await p2.textContent(".lnurl"))!.trim());
    await p2.waitForURL((url) => url.pathname === "/");
    expect(await p2.locator("#recovery-code").count()).toBe(0);
    expect((await second.cookies()).some((c) => c.name === "satchel_session")).toBe(true);
    await second.close();
  });
});
