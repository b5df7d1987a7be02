import { describe, expect, it } from "vitest";
import { SatchelError } from "../errors";
import { caip2Of, evmAddress } from "./evm-key";

describe("evmAddress", () => {
  it("derives the EIP-55 address of a private key (known vectors)", () => {
    expect(evmAddress(`0x${"0".repeat(63)}1`)).toBe("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    expect(evmAddress("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")).toBe(
      "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23",
    );
  });
  it("refuses a key off the curve, without echoing it", () => {
    const zero = `0x${"0".repeat(64)}` as const;
    expect(() => evmAddress(zero)).toThrow(SatchelError);
    try {
      evmAddress(zero);
    } catch (e) {
      expect((e as SatchelError).message).not.toContain("0".repeat(64));
    }
  });
});

describe("caip2Of", () => {
  it("maps CAIP-2 ids and v1 names of Base and Base Sepolia; nothing else", () => {
    expect(caip2Of("base")).toBe("eip155:8453");
    expect(caip2Of("eip155:84532")).toBe("eip155:84532");
    expect(caip2Of("Base-Sepolia")).toBe("eip155:84532");
    expect(caip2Of("eip155:1")).toBeNull();
    expect(caip2Of("solana")).toBeNull();
  });
});
