// The money path's fee limit (DESIGN.md §3 steps 2 and 6) with a real wallet: a Satchel of its own
// that reserves 10% of each payment (at least 1 sat) for routing fees, paying through an NWC wallet
// of the lab. Every limit counts the fee limit; while the outcome is unknown the whole reserve stays
// held; a settled payment spends only amount + actual fee and releases the rest. (The other wallet
// tests run with no fee reserve, so their budgets stay exact to the sat.)
import type { Client } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { z } from "zod";
import type { PaymentOutput } from "../../src/mcp/schemas";
import { startLocalServer } from "../../scripts/local-server.mjs";
import { labControl } from "../support/nwc/control";
import { call, callError, mcpClients } from "./mcp-client";

const LAB = inject("labUrl");
const FEE_RESERVE_PPM = 100_000;

let server: Awaited<ReturnType<typeof startLocalServer>>;
const clients = mcpClients("satchel-e2e-fees", () => server.url);

const lab = <T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}) =>
  labControl<T>(LAB, op, args);

const merchantInvoice = (sats: number) =>
  lab<{ invoice: string; payment_hash: string }>("invoice", { amount_sats: sats });
const attempts = async (hash: string) => (await lab<{ attempts: number }>("attempts", { payment_hash: hash })).attempts;
const reservedSats = async (c: Client) => (await call<{ reserved_sats: number }>(c, "get_budget_status")).reserved_sats;

let op: Client;
async function agentOn(kind: "nip44" | "silent", args: Record<string, unknown>): Promise<Client> {
  const w = await lab<{ uri: string }>("nwc_wallet", { kind });
  await call(op, "connect_wallet", { type: "nwc", uri: w.uri });
  const a = await call<{ api_key: string }>(op, "create_agent", { name: `fees-${clients.count}`, ...args });
  return clients.connect(a.api_key);
}

beforeAll(async () => {
  server = await startLocalServer({
    vars: {
      WALLET_SECRET_KEY: "c2F0Y2hlbC1lMmUtd2FsbGV0LXNlY3JldC1rZXkhISE=",
      WALLET_FEE_RESERVE_PPM: String(FEE_RESERVE_PPM),
      WALLET_FEE_RESERVE_MIN_SATS: "1",
      NWC_REPLY_TIMEOUT_MS: "1500",
    },
  });
  op = await clients.connect(server.devKey);
});

afterAll(async () => {
  await clients.closeAll();
  await server?.stop();
});

describe("the fee limit on the money path", () => {
  it("a settled payment spends amount + actual fee and releases the rest of the reserve", async () => {
    const a = await agentOn("nip44", { initial_balance_sats: 1000 });
    const paid = await call<z.infer<typeof PaymentOutput>>(a, "pay_invoice", {
      invoice: (await merchantInvoice(300)).invoice,
    });
    // The lab's wallets charge no routing fee: 30 sats were held for it, none spent.
    expect(paid).toMatchObject({ status: "succeeded", amount_sats: 300, fee_sats: 0, total_sats: 300 });
    expect(paid.budget_remaining_sats).toBe(700);
    expect(await reservedSats(a)).toBe(0);
    expect(await call<{ balance_sats: number }>(a, "check_balance")).toMatchObject({ balance_sats: 700 });
  });

  it("while the outcome is unknown, the amount and its whole fee limit stay held", async () => {
    const a = await agentOn("silent", { initial_balance_sats: 1000 });
    expect((await callError(a, "pay_invoice", { invoice: (await merchantInvoice(300)).invoice })).code).toBe(
      "PAYMENT_PENDING",
    );
    expect(await reservedSats(a)).toBe(300 + (300 * FEE_RESERVE_PPM) / 1_000_000);
  });

  it("limits count the fee limit: refused before anything is sent, and the invoice stays payable by a sibling", async () => {
    const capped = await agentOn("nip44", { initial_balance_sats: 1000, budget_limit_sats: 320 });
    const sibling = await clients.connect(
      (await call<{ api_key: string }>(op, "create_agent", { name: "fees-sibling", initial_balance_sats: 1000 }))
        .api_key,
    );
    const inv = await merchantInvoice(300);
    // 300 fits the budget, 300 + a 30-sat fee limit does not.
    expect((await callError(capped, "pay_invoice", { invoice: inv.invoice })).code).toBe("BUDGET_EXCEEDED");
    expect(await attempts(inv.payment_hash)).toBe(0);
    expect(await reservedSats(capped)).toBe(0);
    // The refused call gave the operator's claim on the invoice back: another agent may pay it.
    expect(await call<{ total_sats: number }>(sibling, "pay_invoice", { invoice: inv.invoice })).toMatchObject({
      total_sats: 300,
    });
    expect(await attempts(inv.payment_hash)).toBe(1);
  });
});
