import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("health", () => {
  it("answers without a key", async () => {
    const res = await SELF.fetch("https://satchel.test/health");
    expect(res.status).toBe(200);
  });

  it("serves the demo paywalls in development, so pay_l402_api has something to pay locally", async () => {
    const res = await SELF.fetch("http://localhost/demo/l402/fortune", { headers: { host: "localhost" } });
    expect(res.status).toBe(402);
    expect(res.headers.get("www-authenticate")).toMatch(/^L402 /);
  });
});
