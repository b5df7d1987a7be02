// The shared idempotency scenarios (test/integration/scenarios/idempotency.ts) on every wallet backend: the built-in
// fake wallet, a real NWC wallet and a real LNbits wallet on loopback (the wallet lab).
import { describe } from "vitest";
import { backend, BACKENDS } from "./scenarios/backends";
import { idempotencyScenarios } from "./scenarios/idempotency";

describe.each(BACKENDS)("%s wallet", (name) => idempotencyScenarios(backend(name)));
