import { getConfig } from "../config";
import { FAKE_NETWORK_NAME, FakeWallet } from "./fake";
import type { WalletBackend } from "./backend";

/** The wallet backend of an operator. Only the built-in fake wallet exists so far; NWC and LNbits plug in here. */
export function walletFor(env: Env, operatorId: string): WalletBackend {
  const config = getConfig(env);
  const network = env.FAKE_LN.get(env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
  return new FakeWallet(network, operatorId, config.fakeWalletStartMsat, config.network);
}
