// The wallets the shared scenarios (budget, idempotency, crash) run against, behind one interface:
// how an operator is connected to a fresh wallet, how to get a payable external invoice, how to read
// the wallet's own balance, and how to make the wallet fail, time out, hang, lie, or resolve a
// payment it holds.
//
//   fake    the built-in FakeLightningNetwork Durable Object (the operator's default wallet)
//   nwc     a real NIP-47 wallet: the wallet lab's relay + @getalby/sdk NWCWalletService on loopback,
//           connected with connect_wallet and reached through the operator's OperatorDesk object
//   nwc-warm  the same, with every agent's payments on the warm path from the first (reserve, then
//           one desk call that claims and sends: AgentLedger.payOverWarmNwc)
//   lnbits  the wallet lab's LNbits API on loopback (admin key), connected with connect_wallet
//
// The lab (test/support/nwc/lab.ts) runs in Node (globalSetup test/support/nwc/lab-setup.ts); tests
// drive it over POST /control. Its wallets charge no routing fee and the workers project reserves
// none (WALLET_FEE_RESERVE_* = 0 in vitest.config.ts), so budgets stay exact to the sat.
import { expect, inject } from "vitest";
import type { Principal } from "../../../src/auth/principal";
import {
  fakeNetwork,
  merchantInvoice,
  newAgent,
  newOperator,
  nodeOf,
  ok,
  START_MSAT,
  tool,
  warmLedger,
  type Agent,
} from "../helpers";
import { labControl } from "../../support/nwc/control";

export const BACKENDS = ["fake", "nwc", "nwc-warm", "lnbits"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * How a wallet behaves on the next payments, whatever its kind:
 * - fail: refuses; nothing is paid.
 * - timeout: takes the payment but its answer never comes in time (the payment stays in flight).
 *   fake: answers "pending" at once; NWC: never replies, Satchel's reply timeout fires; LNbits: holds
 *   its HTTP answer, Satchel's request timeout fires.
 * - hang: takes the payment and holds the call open (tests crash the ledger meanwhile).
 * - bad_preimage: pays, but reports a preimage that does not match (a lying wallet).
 */
export type WalletMode = "normal" | "fail" | "timeout" | "hang" | "bad_preimage";

export interface Backend {
  name: BackendName;
  /** True when Satchel chose the preimages of its invoices (the fake wallet), so internal payments carry proof. */
  knowsInvoicePreimages: boolean;
  /** A fresh operator with its own API key, connected to a fresh wallet of this kind holding START_MSAT. */
  newOperator(): Promise<{ principal: Principal; key: string }>;
  /** A new agent of the operator (helpers' newAgent), ready to pay as this backend's payments do. */
  newAgent(op: Principal, args?: Record<string, unknown>): Promise<Agent>;
  /** A payable invoice of an external merchant (outside every operator). nowMs dates it (a test clock moved ahead). */
  merchantInvoice(sats: number, opts?: { description?: string; nowMs?: number }): Promise<string>;
  /** The operator's wallet balance as the wallet itself keeps it (not as Satchel reports it). */
  walletBalanceMsat(operatorId: string): Promise<number>;
  setMode(operatorId: string, mode: WalletMode): Promise<void>;
  /** Resolves once the operator's wallet holds a payment of this hash (waits on events, not time). */
  waitUntilHeld(operatorId: string, paymentHash: string): Promise<void>;
  /** Ends a payment the wallet holds: "succeeded" routes it for real, "failed" fails it. */
  resolvePending(operatorId: string, paymentHash: string, result: "succeeded" | "failed"): Promise<void>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

const fake: Backend = {
  name: "fake",
  knowsInvoicePreimages: true,
  newOperator,
  newAgent,
  merchantInvoice,
  async walletBalanceMsat(operatorId) {
    return (await fakeNetwork().info(nodeOf(operatorId))).balanceMsat;
  },
  async setMode(operatorId, mode) {
    await fakeNetwork().setMode(nodeOf(operatorId), mode);
  },
  async waitUntilHeld() {
    const network = fakeNetwork();
    for (let i = 0; i < 1000 && (await network.hungCount()) === 0; i++) {
      // each round trip to the network object lets the payment reach it
    }
    expect(await network.hungCount()).toBe(1);
  },
  async resolvePending(operatorId, paymentHash, result) {
    // A fresh stub each time: stubs made before abortAllDurableObjects are dead.
    await fakeNetwork().resolvePending(nodeOf(operatorId), paymentHash, result, nowSeconds());
  },
};

/** One call to the wallet lab's control API. */
export const lab = <T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}) =>
  labControl<T>(inject("labUrl"), op, args);

/** The lab node behind each operator's wallet, by operator id. */
const labNodes = new Map<string, string>();

function labNode(operatorId: string): string {
  const node = labNodes.get(operatorId);
  if (!node) throw new Error(`operator ${operatorId} has no lab wallet`);
  return node;
}

/** The lab's modes: a real wallet that times out and one that hangs both hold the payment unanswered. */
const LAB_MODES: Record<WalletMode, string> = {
  normal: "normal",
  fail: "fail",
  timeout: "hang",
  hang: "hang",
  bad_preimage: "bad_preimage",
};

function labBackend(name: "nwc" | "lnbits"): Backend {
  return {
    name,
    knowsInvoicePreimages: false,
    newAgent,
    async newOperator() {
      const created = await newOperator();
      const startSats = START_MSAT / 1000;
      if (name === "nwc") {
        const w = await lab<{ id: string; uri: string }>("nwc_wallet", { kind: "nip44", startSats });
        labNodes.set(created.principal.operatorId, w.id);
        const c = ok<{ wallet: { kind: string; can_pay: boolean } }>(
          await tool(created.principal, "connect_wallet", { type: "nwc", uri: w.uri }),
        );
        expect(c.wallet).toMatchObject({ kind: "nwc", can_pay: true });
      } else {
        const w = await lab<{ id: string; url: string; admin_key: string }>("lnbits_wallet", { startSats });
        labNodes.set(created.principal.operatorId, w.id);
        const c = ok<{ wallet: { kind: string; can_pay: boolean } }>(
          await tool(created.principal, "connect_wallet", { type: "lnbits", url: w.url, api_key: w.admin_key }),
        );
        expect(c.wallet).toMatchObject({ kind: "lnbits", can_pay: true });
      }
      return created;
    },
    async merchantInvoice(sats, opts = {}) {
      const r = await lab<{ invoice: string }>("invoice", {
        amount_sats: sats,
        description: opts.description ?? "merchant",
        timestamp: Math.floor((opts.nowMs ?? Date.now()) / 1000),
      });
      return r.invoice;
    },
    async walletBalanceMsat(operatorId) {
      return (await lab<{ balance_msat: number }>("node", { node: labNode(operatorId) })).balance_msat;
    },
    async setMode(operatorId, mode) {
      await lab("mode", { node: labNode(operatorId), mode: LAB_MODES[mode] });
    },
    async waitUntilHeld(operatorId, paymentHash) {
      await lab("await_attempt", { node: labNode(operatorId), payment_hash: paymentHash });
    },
    async resolvePending(operatorId, paymentHash, result) {
      await lab("resolve", { node: labNode(operatorId), payment_hash: paymentHash, result });
    },
  };
}

/**
 * NWC with every agent's ledger on the warm path (AgentLedger.payOverWarmNwc) from its first payment:
 * each new ledger is handed the connection as the operator's desk names it, as if the agent had just
 * paid, so the scenarios run with the reservation made before the desk's claim.
 */
const nwcWarm: Backend = {
  ...labBackend("nwc"),
  name: "nwc-warm",
  async newAgent(op, args) {
    const agent = await newAgent(op, args);
    await warmLedger(agent.agentId, op.operatorId);
    return agent;
  },
};

const ALL: Record<BackendName, Backend> = {
  fake,
  nwc: labBackend("nwc"),
  "nwc-warm": nwcWarm,
  lnbits: labBackend("lnbits"),
};

export function backend(name: BackendName): Backend {
  return ALL[name];
}
