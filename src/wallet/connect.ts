import { getConfig } from "../config";
import { SatchelError } from "../errors";
import type { WalletInfo } from "./backend";
import { saveWalletConnection, validateWalletConnection, walletRef, type WalletConnectionInput } from "./connection";
import { backendFor, deskStub } from "./factory";

export interface ConnectedWallet {
  type: "nwc" | "lnbits" | "fake";
  /** Redacted: the relay or LNbits host, never the secret. */
  description: string;
  info: WalletInfo;
  balanceMsat: number;
  canPay: boolean;
  /** Plain-language cautions about what this wallet cannot do. */
  warnings: string[];
}

/**
 * Tests a wallet (info and balance), then stores it as the operator's wallet. Shared by the
 * connect_wallet tool and the dashboard, so a wallet that cannot answer never replaces a working
 * one, whichever way it is connected. A failed test stores nothing and throws the coded error.
 */
export async function connectWallet(
  env: Env,
  operatorId: string,
  input: WalletConnectionInput,
): Promise<ConnectedWallet> {
  const secret = validateWalletConnection(input);
  const backend = backendFor(env, operatorId, secret);
  let info: WalletInfo;
  let balanceMsat: number;
  try {
    [info, balanceMsat] = await Promise.all([backend.getInfo(), backend.getBalance()]);
  } catch (e) {
    if (e instanceof SatchelError) {
      throw new SatchelError(e.code, `The wallet did not pass the test: ${e.message}`, {
        hint: e.hint ?? "Check the connection string and that the wallet is online; nothing was saved.",
      });
    }
    throw e;
  }
  const stranded = await pendingElsewhere(env, operatorId, walletRef(secret));
  const view = await saveWalletConnection(env, operatorId, input);
  // The operator's desk must neither pay with nor keep talking to the previous wallet.
  await deskStub(env, operatorId).walletChanged();
  const assessed = assess(env, info);
  if (stranded > 0) {
    assessed.warnings.push(
      `${stranded} payment${stranded === 1 ? " sent through another wallet connection is" : "s sent through other wallet connections are"} still pending. ` +
        "Only the wallet that sent a payment can tell its outcome, so the sats stay reserved until that wallet is connected again.",
    );
  }
  return { type: view.type, description: view.description, info, balanceMsat, ...assessed };
}

/**
 * How many of the operator's payments sent through another wallet connection than `nextRef` are
 * still pending. Read from the journal, so a payment reserved in the last moments may be missing:
 * this only feeds a warning; the ledger's reconciler is what keeps such payments held (it asks only
 * the wallet that sent them).
 */
async function pendingElsewhere(env: Env, operatorId: string, nextRef: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM transactions
     WHERE operator_id = ? AND status IN ('reserved', 'pending') AND wallet_ref IS NOT NULL AND wallet_ref != ?`,
  )
    .bind(operatorId, nextRef)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** What a wallet's info says it can and cannot do for Satchel. */
export function assess(env: Env, info: WalletInfo): { canPay: boolean; warnings: string[] } {
  const canPay = info.canPay ?? info.methods.includes("pay_invoice");
  const warnings: string[] = [];
  const network = getConfig(env).network;
  if (info.network !== network) {
    warnings.push(`The wallet is on ${info.network} but Satchel runs on ${network}: invoices will be refused.`);
  }
  if (!canPay) warnings.push("This wallet connection can receive but not pay: paying tools will fail with FORBIDDEN.");
  if (!info.methods.includes("lookup_payment") && canPay) {
    warnings.push(
      "The wallet cannot look payments up: a payment whose reply is lost stays pending until its invoice expires.",
    );
  }
  if (info.encryption === "nip04")
    warnings.push("The wallet only speaks NIP-04 encryption (older); NIP-44 is preferred.");
  return { canPay, warnings };
}
