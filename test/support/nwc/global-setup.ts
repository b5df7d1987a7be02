// e2e globalSetup for the wallet tests: the wallet lab (relay, NWC wallet service, LNbits API,
// LNURL services, control API) and a Satchel of its own (wrangler dev) with a wallet-sealing key,
// no fee reserve (the lab's wallets charge no fees, so budgets stay exact) and a short NWC reply
// timeout, so "the wallet never answers" is observed in a second instead of thirty.
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../../../scripts/local-server.mjs";
import { startLab } from "./lab";

declare module "vitest" {
  export interface ProvidedContext {
    labUrl: string;
    walletSatchelUrl: string;
    walletSatchelDevKey: string;
    nwcReplyTimeoutMs: number;
  }
}

export const NWC_REPLY_TIMEOUT_MS = 1500;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lab = await startLab();
  const server = await startLocalServer({
    vars: {
      WALLET_SECRET_KEY: "c2F0Y2hlbC1lMmUtd2FsbGV0LXNlY3JldC1rZXkhISE=",
      WALLET_FEE_RESERVE_PPM: "0",
      WALLET_FEE_RESERVE_MIN_SATS: "0",
      NWC_REPLY_TIMEOUT_MS: String(NWC_REPLY_TIMEOUT_MS),
    },
  }).catch(async (e: unknown) => {
    await lab.stop();
    throw e;
  });
  project.provide("labUrl", lab.url);
  project.provide("walletSatchelUrl", server.url);
  project.provide("walletSatchelDevKey", server.devKey);
  project.provide("nwcReplyTimeoutMs", NWC_REPLY_TIMEOUT_MS);
  return async () => {
    await server.stop();
    await lab.stop();
  };
}
