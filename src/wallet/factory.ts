import { getConfig } from "../config";
import type { Msat } from "../money";
import type {
  InvoiceState,
  KeysendRequest,
  MadeInvoice,
  PayInvoiceRequest,
  PaymentOutcome,
  WalletBackend,
  WalletInfo,
} from "./backend";
import { openStoredSecret, readWalletSecret, walletRef, type StoredWalletRow, type WalletSecret } from "./connection";
import { FAKE_NETWORK_NAME, FakeWallet } from "./fake";
import { LnbitsWallet } from "./lnbits";
import { NwcWallet } from "./nwc";
import { DeskNwcTransport, type DeskPayClaim, type DeskRefusal, type OperatorDesk } from "./operator-desk";

/** The operator's desk: invoice register, payment claims and the live NWC connection. */
export function deskStub(env: Env, operatorId: string): DurableObjectStub<OperatorDesk> {
  return env.OPERATOR_DESKS.get(env.OPERATOR_DESKS.idFromName(operatorId));
}

/** The operator's built-in fake wallet. */
export function fakeWalletFor(env: Env, operatorId: string): FakeWallet {
  const config = getConfig(env);
  const network = env.FAKE_LN.get(env.FAKE_LN.idFromName(FAKE_NETWORK_NAME));
  return new FakeWallet(network, operatorId, config.fakeWalletStartMsat, config.network);
}

/** The backend for a connection secret (null: the fake wallet). Used by walletFor and connect_wallet's test. */
export function backendFor(env: Env, operatorId: string, secret: WalletSecret | null): WalletBackend {
  if (secret === null) return fakeWalletFor(env, operatorId);
  if (secret.type === "lnbits") return new LnbitsWallet(env, secret.url, secret.apiKey);
  return new NwcWallet(env, new DeskNwcTransport(deskStub(env, operatorId), secret.uri));
}

/**
 * The wallet backend of an operator, chosen from its stored connection (fake | nwc | lnbits).
 * Returned at once; the connection is read from D1 (and decrypted) on the first call and kept for
 * the life of this object, so one payment reads it once.
 */
export function walletFor(env: Env, operatorId: string): WalletBackend {
  return new OperatorWallet(env, operatorId, () => readWalletSecret(env, operatorId));
}

/** walletFor, from a stored connection the caller read in a batch of its own (storedWalletQuery). */
export function walletFromStored(env: Env, operatorId: string, row: StoredWalletRow | null): WalletBackend {
  return new OperatorWallet(env, operatorId, () => openStoredSecret(env, operatorId, row));
}

/** Resolves the operator's backend lazily, so walletFor stays synchronous for its callers. */
class OperatorWallet implements WalletBackend {
  private backend: Promise<WalletBackend> | null = null;
  private resolved: WalletBackend | null = null;
  /** walletRef of the connection, once ready() has resolved. */
  ref: string | null = null;
  /** The NWC connection URI, once ready() has resolved and when the connection is NWC. */
  nwcUri: string | null = null;

  constructor(
    private readonly env: Env,
    private readonly operatorId: string,
    private readonly secret: () => Promise<WalletSecret | null>,
  ) {}

  /** The operator's backend; later calls reuse the first resolution. */
  ready(): Promise<WalletBackend> {
    this.backend ??= this.secret().then((secret) => {
      this.ref = walletRef(secret);
      this.nwcUri = secret?.type === "nwc" ? secret.uri : null;
      this.resolved = backendFor(this.env, this.operatorId, secret);
      return this.resolved;
    });
    return this.backend;
  }

  async getInfo(): Promise<WalletInfo> {
    return (await this.ready()).getInfo();
  }
  async getBalance(): Promise<Msat> {
    return (await this.ready()).getBalance();
  }
  async makeInvoice(req: { amountMsat: Msat; description: string; expirySeconds: number }): Promise<MadeInvoice> {
    return (await this.ready()).makeInvoice(req);
  }
  async payInvoice(req: PayInvoiceRequest): Promise<PaymentOutcome> {
    return (await this.ready()).payInvoice(req);
  }
  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    return (await this.ready()).lookupInvoice(paymentHash);
  }
  async lookupPayment(paymentHash: string): Promise<PaymentOutcome | { status: "unknown" }> {
    return (await this.ready()).lookupPayment(paymentHash);
  }
  async payKeysend(req: KeysendRequest): Promise<PaymentOutcome> {
    const b = await this.ready();
    if (!b.payKeysend)
      return { status: "failed", reason: "this wallet cannot send keysend payments", code: "UNSUPPORTED" };
    return b.payKeysend(req);
  }
  /** Exact once ready() has resolved; before that, 0 (the fake wallet's reserve). Use walletFeeReserve. */
  feeReserveMsat(amountMsat: Msat): Msat {
    return this.resolved ? this.resolved.feeReserveMsat(amountMsat) : (0 as Msat);
  }
}

/** The fee reserve of a payment, after the operator's backend is known (real wallets reserve a fee, the fake one none). */
export async function walletFeeReserve(wallet: WalletBackend, amountMsat: Msat): Promise<Msat> {
  if (wallet instanceof OperatorWallet) await wallet.ready();
  return wallet.feeReserveMsat(amountMsat);
}

/**
 * The wallet connection a payment goes through (walletRef), after the operator's backend is known;
 * null for a backend made outside the factory.
 */
export async function walletRefOf(wallet: WalletBackend): Promise<string | null> {
  if (!(wallet instanceof OperatorWallet)) return null;
  await wallet.ready();
  return wallet.ref;
}

/** The NWC connection URI of an operator's wallet, after its backend is known; null for any other kind. */
export async function nwcUriOf(wallet: WalletBackend): Promise<string | null> {
  if (!(wallet instanceof OperatorWallet)) return null;
  await wallet.ready();
  return wallet.nwcUri;
}

/** A payment over the warm NWC path: sent, with its outcome, or refused unsent by the desk. */
export type ClaimedPayment = { outcome: PaymentOutcome } | { refusal: DeskRefusal };

/**
 * Pays an invoice over an operator's NWC connection (`uri`, from nwcUriOf) with the desk claiming
 * it in the same call (OperatorDesk.claimAndCall). The outcome rules are NwcWallet's, unchanged.
 */
export async function payInvoiceClaimed(
  env: Env,
  uri: string,
  req: PayInvoiceRequest,
  claim: DeskPayClaim,
): Promise<ClaimedPayment> {
  const transport = new DeskNwcTransport(deskStub(env, claim.operatorId), uri, claim);
  const outcome = await new NwcWallet(env, transport).payInvoice(req);
  return transport.refusal ? { refusal: transport.refusal } : { outcome };
}

/** Whether a backend can send keysend payments, without calling it. */
export async function supportsKeysend(wallet: WalletBackend): Promise<boolean> {
  const b = wallet instanceof OperatorWallet ? await wallet.ready() : wallet;
  return typeof b.payKeysend === "function";
}
