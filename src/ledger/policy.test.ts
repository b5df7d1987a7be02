import { describe, it, expect } from "vitest";
import { SatchelError } from "../errors";
import { checkSpend, remaining, withConnectionCap, type BudgetPolicy, type SpendState } from "./policy";

/** No limits at all; each test sets only the limit it is about. */
const policy = (p: Partial<BudgetPolicy> = {}): BudgetPolicy => ({
  maxPerPaymentMsat: null,
  dailyLimitMsat: null,
  budgetLimitMsat: null,
  perSessionLimitMsat: null,
  allowedHosts: null,
  ...p,
});

/** A rich agent that has spent nothing, unless a test says otherwise. */
const state = (s: Partial<SpendState> = {}): SpendState => ({
  availableMsat: 1_000_000_000,
  lifetimeSpentMsat: 0,
  dailySpentMsat: 0,
  sessionSpentMsat: 0,
  ...s,
});

/** The error checkSpend returned; fails the test if it allowed the payment. */
function refused(p: BudgetPolicy, s: SpendState, amountMsat: number, feeLimitMsat = 0): SatchelError {
  const err = checkSpend(p, s, amountMsat, feeLimitMsat);
  expect(err, "expected the payment to be refused").toBeInstanceOf(SatchelError);
  return err!;
}

describe("checkSpend", () => {
  it("allows any payment the balance covers when no limit is set", () => {
    expect(checkSpend(policy(), state({ availableMsat: 5_000 }), 4_000, 1_000)).toBeNull();
  });

  it("ignores allowed_hosts: hosts are checked where URLs are paid, not here", () => {
    expect(checkSpend(policy({ allowedHosts: [] }), state(), 1_000, 0)).toBeNull();
  });

  describe("per-payment limit", () => {
    const p = policy({ maxPerPaymentMsat: 10_000 });

    it("allows a payment exactly at the limit", () => {
      expect(checkSpend(p, state(), 10_000, 0)).toBeNull();
    });

    it("refuses one msat over with AMOUNT_TOO_LARGE", () => {
      const err = refused(p, state(), 10_001);
      expect(err.code).toBe("AMOUNT_TOO_LARGE");
      expect(err.details).toEqual({ limit: "per_payment" });
      expect(err.hint).toMatch(/max_per_payment_sats/);
    });

    it("does not count the fee reserve: the limit is on what the payee asks", () => {
      expect(checkSpend(p, state(), 10_000, 5_000)).toBeNull();
    });

    it("a limit of 0 refuses every payment", () => {
      expect(refused(policy({ maxPerPaymentMsat: 0 }), state(), 1).code).toBe("AMOUNT_TOO_LARGE");
    });
  });

  describe.each([
    { limit: "lifetime", key: "budgetLimitMsat", spent: "lifetimeSpentMsat" },
    { limit: "daily", key: "dailyLimitMsat", spent: "dailySpentMsat" },
    { limit: "session", key: "perSessionLimitMsat", spent: "sessionSpentMsat" },
  ] as const)("$limit limit", ({ limit, key, spent }) => {
    // 100 sats limit, 40 spent: 60 sats (60,000 msat) of headroom.
    const p = policy({ [key]: 100_000 });
    const s = state({ [spent]: 40_000 });

    it("allows a payment that uses the headroom exactly", () => {
      expect(checkSpend(p, s, 60_000, 0)).toBeNull();
    });

    it("refuses one msat over with BUDGET_EXCEEDED naming the limit", () => {
      const err = refused(p, s, 60_001);
      expect(err.code).toBe("BUDGET_EXCEEDED");
      expect(err.details).toEqual({ limit, remaining_sats: 60 });
    });

    it("counts the fee reserve against the limit", () => {
      expect(checkSpend(p, s, 50_000, 10_000)).toBeNull();
      const err = refused(p, s, 50_000, 10_001);
      expect(err.code).toBe("BUDGET_EXCEEDED");
      expect(err.details?.limit).toBe(limit);
    });

    it("refuses everything once spending has reached or passed the limit (e.g. the limit was lowered)", () => {
      expect(refused(p, state({ [spent]: 100_000 }), 1).details).toEqual({ limit, remaining_sats: 0 });
      expect(refused(p, state({ [spent]: 250_000 }), 1).details).toEqual({ limit, remaining_sats: 0 });
    });

    it("a limit of 0 refuses every payment", () => {
      expect(refused(policy({ [key]: 0 }), state(), 1).details?.limit).toBe(limit);
    });

    it("a null limit is no limit, however much was spent", () => {
      expect(checkSpend(policy({ [key]: null }), state({ [spent]: 10 ** 15 }), 1_000_000, 0)).toBeNull();
    });

    it("reports remaining_sats rounded down to whole sats", () => {
      const err = refused(p, state({ [spent]: 40_001 }), 60_000);
      expect(err.details).toEqual({ limit, remaining_sats: 59 });
    });
  });

  it("the daily hint says the window is a rolling 24 hours", () => {
    expect(refused(policy({ dailyLimitMsat: 0 }), state(), 1).hint).toMatch(/rolling 24 hours/);
  });

  describe("balance", () => {
    const s = state({ availableMsat: 10_000 });

    it("allows a payment that uses the whole balance", () => {
      expect(checkSpend(policy(), s, 10_000, 0)).toBeNull();
    });

    it("refuses one msat over with INSUFFICIENT_BALANCE", () => {
      const err = refused(policy(), s, 10_001);
      expect(err.code).toBe("INSUFFICIENT_BALANCE");
      expect(err.hint).toMatch(/fund_agent/);
    });

    it("counts the fee reserve against the balance", () => {
      expect(checkSpend(policy(), s, 9_000, 1_000)).toBeNull();
      expect(refused(policy(), s, 9_000, 1_001).code).toBe("INSUFFICIENT_BALANCE");
    });

    it("refuses every payment when the balance is negative, and reports it as 0 sats", () => {
      // A backend that charged more fee than reserved can leave the balance below zero.
      const err = refused(policy(), state({ availableMsat: -1 }), 1);
      expect(err.code).toBe("INSUFFICIENT_BALANCE");
      expect(err.message).toMatch(/balance of 0 sats/);
    });

    it("refuses when the balance is zero", () => {
      expect(refused(policy(), state({ availableMsat: 0 }), 1).code).toBe("INSUFFICIENT_BALANCE");
    });
  });

  describe("precedence: per payment, lifetime, daily, session, balance", () => {
    // Every check fails for a 10-sat payment; relaxing one limit at a time exposes the next.
    const all = {
      maxPerPaymentMsat: 1_000,
      budgetLimitMsat: 1_000,
      dailyLimitMsat: 1_000,
      perSessionLimitMsat: 1_000,
    };
    const poor = state({ availableMsat: 1_000 });
    const whatFails = (p: Partial<BudgetPolicy>) => {
      const err = refused(policy(p), poor, 10_000);
      return err.code === "BUDGET_EXCEEDED" ? `BUDGET_EXCEEDED:${String(err.details?.limit)}` : err.code;
    };

    it("reports the first failing check in order", () => {
      expect(whatFails(all)).toBe("AMOUNT_TOO_LARGE");
      expect(whatFails({ ...all, maxPerPaymentMsat: null })).toBe("BUDGET_EXCEEDED:lifetime");
      expect(whatFails({ ...all, maxPerPaymentMsat: null, budgetLimitMsat: null })).toBe("BUDGET_EXCEEDED:daily");
      expect(whatFails({ perSessionLimitMsat: 1_000 })).toBe("BUDGET_EXCEEDED:session");
      expect(whatFails({})).toBe("INSUFFICIENT_BALANCE");
    });

    it("a budget limit is reported before an empty balance", () => {
      const err = refused(policy({ budgetLimitMsat: 0 }), state({ availableMsat: 0 }), 1);
      expect(err.code).toBe("BUDGET_EXCEEDED");
    });
  });
});

describe("remaining", () => {
  it("has no headroom figures without limits; spendable is the balance", () => {
    expect(remaining(policy(), state({ availableMsat: 7_000 }))).toEqual({
      lifetimeMsat: null,
      dailyMsat: null,
      sessionMsat: null,
      spendableMsat: 7_000,
    });
  });

  it("gives each limit's headroom, and spendable as the least of them and the balance", () => {
    const p = policy({ budgetLimitMsat: 100_000, dailyLimitMsat: 50_000, perSessionLimitMsat: 30_000 });
    const s = state({
      availableMsat: 80_000,
      lifetimeSpentMsat: 10_000,
      dailySpentMsat: 5_000,
      sessionSpentMsat: 2_000,
    });
    expect(remaining(p, s)).toEqual({
      lifetimeMsat: 90_000,
      dailyMsat: 45_000,
      sessionMsat: 28_000,
      spendableMsat: 28_000,
    });
  });

  it.each([
    ["lifetime", { budgetLimitMsat: 3_000 }],
    ["daily", { dailyLimitMsat: 3_000 }],
    ["session", { perSessionLimitMsat: 3_000 }],
  ] as const)("the %s limit alone can be the binding one", (_name, limit) => {
    expect(
      remaining(
        policy({ budgetLimitMsat: 9_000, dailyLimitMsat: 9_000, perSessionLimitMsat: 9_000, ...limit }),
        state(),
      ).spendableMsat,
    ).toBe(3_000);
  });

  it("the balance can be the binding one", () => {
    expect(remaining(policy({ budgetLimitMsat: 9_000 }), state({ availableMsat: 2_000 })).spendableMsat).toBe(2_000);
  });

  it("never goes below zero: overspent limits and a negative balance both give 0", () => {
    const r = remaining(
      policy({ budgetLimitMsat: 1_000, dailyLimitMsat: 1_000, perSessionLimitMsat: 1_000 }),
      state({ availableMsat: -500, lifetimeSpentMsat: 2_000, dailySpentMsat: 2_000, sessionSpentMsat: 2_000 }),
    );
    expect(r).toEqual({ lifetimeMsat: 0, dailyMsat: 0, sessionMsat: 0, spendableMsat: 0 });
    expect(remaining(policy(), state({ availableMsat: -500 })).spendableMsat).toBe(0);
  });

  it("spendable is exactly the largest amount + fee reserve checkSpend allows (without a per-payment limit)", () => {
    const limits = [null, 0, 1, 999, 50_000];
    const spents = [0, 1, 20_000, 60_000];
    for (const budget of limits)
      for (const daily of limits)
        for (const session of [null, 25_000])
          for (const used of spents)
            for (const available of [-1, 0, 30_000, 10 ** 9]) {
              const p = policy({ budgetLimitMsat: budget, dailyLimitMsat: daily, perSessionLimitMsat: session });
              const s = state({
                availableMsat: available,
                lifetimeSpentMsat: used,
                dailySpentMsat: used,
                sessionSpentMsat: used,
              });
              const { spendableMsat } = remaining(p, s);
              const label = JSON.stringify({ budget, daily, session, used, available, spendableMsat });
              if (spendableMsat > 0) {
                expect(checkSpend(p, s, spendableMsat, 0), label).toBeNull();
                // Split between amount and fee reserve: the total is what counts.
                expect(checkSpend(p, s, spendableMsat - 1, 1), label).toBeNull();
              }
              expect(checkSpend(p, s, spendableMsat + 1, 0), label).not.toBeNull();
              expect(checkSpend(p, s, spendableMsat, 1), label).not.toBeNull();
            }
  });
});

describe("withConnectionCap", () => {
  it("tightens the per-session limit to an OAuth connection's cap and leaves the agent's policy alone", () => {
    const agent = policy({ perSessionLimitMsat: 50_000, dailyLimitMsat: 80_000 });
    expect(withConnectionCap(agent, undefined)).toBe(agent);
    expect(withConnectionCap(agent, 30_000)).toEqual({ ...agent, perSessionLimitMsat: 30_000 });
    expect(withConnectionCap(agent, 90_000)).toEqual(agent);
    expect(withConnectionCap(policy(), 30_000).perSessionLimitMsat).toBe(30_000);
    expect(agent.perSessionLimitMsat).toBe(50_000);
  });
});
