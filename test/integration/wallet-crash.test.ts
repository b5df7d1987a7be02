// The shared crash scenarios (test/integration/scenarios/crash.ts) on every wallet backend: the built-in
// fake wallet, a real NWC wallet and a real LNbits wallet on loopback (the wallet lab).
import { describe } from "vitest";
import { backend, BACKENDS } from "./scenarios/backends";
import { crashScenarios } from "./scenarios/crash";

describe.each(BACKENDS)("%s wallet", (name) => crashScenarios(backend(name)));
