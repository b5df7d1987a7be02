// The shared crash scenarios (test/integration/scenarios/crash.ts) on every wallet backend: the built-in
// fake wallet, a real NWC wallet and a real LNbits wallet on loopback (the wallet lab). Then the one
// crash only the fake wallet can show: the wallet's own call breaking under a live ledger.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerStub } from "../../src/ledger/client";
import { codeOf, fakeNetwork, snapshot, tool } from "./helpers";
import { backend, BACKENDS } from "./scenarios/backends";
import { crashScenarios, hungPayment } from "./scenarios/crash";

describe.each(BACKENDS)("%s wallet", (name) => crashScenarios(backend(name)));

describe("fake wallet: the wallet's call throws while the ledger lives", () => {
  // NWC and LNbits turn a broken call into "pending" inside their clients; the fake wallet's call is a
  // plain RPC to the network object, so here the ledger's own rule is what holds: a send that throws
  // may have paid, so it is pending, never failed.
  it("the network object is reset mid-payment: PAYMENT_PENDING, sats held, then settled once by the alarm", async () => {
    const b = backend("fake");
    const { op, agentId, principal, invoice, hash, inFlight } = await hungPayment(b, 25);

    // Only the wallet's side dies: its in-flight call throws in the ledger, which stays up.
    await runInDurableObject(fakeNetwork(), (_instance, state) => state.abort("reset mid-payment")).catch(
      () => undefined,
    );
    expect(codeOf(await inFlight)).toBe("PAYMENT_PENDING");
    expect((await snapshot(agentId)).reservedMsat).toBe(25_000);
    expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("PAYMENT_PENDING");

    await b.resolvePending(op.operatorId, hash, "succeeded");
    await runDurableObjectAlarm(ledgerStub(env, agentId));
    const s = await snapshot(agentId);
    expect([s.reservedMsat, s.spentMsat]).toEqual([0, 25_000]);
    expect(codeOf(await tool(principal, "pay_invoice", { invoice }))).toBe("ALREADY_PAID");
  });
});
