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
  const elsewhere = await openElsewhere(env, operatorId, walletRef(secret));
  const view = await saveWalletConnection(env, operatorId, input);
  // The operator's desk must neither pay with nor keep talking to the previous wallet.
  await deskStub(env, operatorId).walletChanged();
  const assessed = assess(env, info);
  const { payments, invoices } = elsewhere;
  if (payments > 0) {
    assessed.warnings.push(
      `${count(payments, "payment")} sent through another wallet connection ${payments === 1 ? "is" : "are"} still pending. ` +
        "Only the wallet that sent a payment can tell its outcome, so the sats stay reserved until that wallet is connected again " +
        "(or, if it is gone for good, until you settle them with resolve_payment).",
    );
  }
  if (invoices > 0) {
    assessed.warnings.push(
      `${count(invoices, "invoice")} issued through another wallet connection ${invoices === 1 ? "is" : "are"} still open. ` +
        "Payments to them reach that wallet; agents are credited once it is connected again.",
    );
  }
  return { type: view.type, description: view.description, info, balanceMsat, ...assessed };
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * The operator's payments still pending and invoices still open on other wallet connections than
 * `nextRef`. Read from the journal, so an entry of the last moments may be missing: this only feeds
 * warnings; the ledgers are what keep such entries waiting for their own wallet.
 */
async function openElsewhere(
  env: Env,
  operatorId: string,
  nextRef: string,
): Promise<{ payments: number; invoices: number }> {
  const row = await env.DB.prepare(
    `SELECT COALESCE(SUM(direction = 'out'), 0) AS payments, COALESCE(SUM(direction = 'in'), 0) AS invoices
     FROM transactions
     WHERE operator_id = ? AND status IN ('reserved', 'pending', 'open') AND wallet_ref IS NOT NULL AND wallet_ref != ?`,
  )
    .bind(operatorId, nextRef)
    .first<{ payments: number; invoices: number }>();
  return { payments: row?.payments ?? 0, invoices: row?.invoices ?? 0 };
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
