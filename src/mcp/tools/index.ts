import type { ToolDef } from "../tool";
import { agentTools } from "./agent";
import { infoTools } from "./info";
import { operatorTools } from "./operator";
import { walletTools } from "./wallet";
import { paywallTools } from "./paywall";

/** Every tool Satchel serves, on every transport. */
export const TOOL_TABLE: readonly ToolDef[] = [
  ...infoTools,
  ...agentTools,
  ...paywallTools,
  ...operatorTools,
  ...walletTools,
];
