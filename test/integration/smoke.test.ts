import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("health", () => {
  it("answers without a key", async () => {
    const res = await SELF.fetch("https://satchel.test/health");
    expect(res.status).toBe(200);
  });
});
