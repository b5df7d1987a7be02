// globalSetup of the Workers-runtime tests (vitest project "workers"): runs in Node, starts the
// wallet lab (test/support/nwc/lab.ts: a Nostr relay with @getalby/sdk's NWCWalletService, an
// LNbits-style API and LNURL services over one test Lightning network) on 127.0.0.1 and provides
// its URL. Worker code under test reaches it as ws://127.0.0.1:<port> and http://127.0.0.1:<port>;
// tests drive it through POST /control (test/integration/scenarios/backends.ts).
import type { TestProject } from "vitest/node";
import { startLab } from "./lab";

declare module "vitest" {
  export interface ProvidedContext {
    labUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lab = await startLab();
  project.provide("labUrl", lab.url);
  return () => lab.stop();
}
