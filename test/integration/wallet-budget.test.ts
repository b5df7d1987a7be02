// The shared budget scenarios (test/integration/scenarios/budget.ts) on every wallet backend: the built-in
// fake wallet, a real NWC wallet and a real LNbits wallet on loopback (the wallet lab).
import { describe } from "vitest";
import { backend, BACKENDS } from "./scenarios/backends";
import { budgetScenarios } from "./scenarios/budget";

describe.each(BACKENDS)("%s wallet", (name) => budgetScenarios(backend(name)));
