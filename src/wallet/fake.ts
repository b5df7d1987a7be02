import type { Network } from "../lightning/bolt11";
import { msat, type Msat } from "../money";
import type {
  InvoiceState,
  MadeInvoice,
  PayInvoiceRequest,
  PaymentOutcome,
  WalletBackend,
  WalletInfo,
} from "./backend";
import type { FakeLightningNetwork, NodeRef } from "./fake-network";

/** The one network instance every fake wallet of a deployment lives in. */
export const FAKE_NETWORK_NAME = "fake-network";

/** The built-in wallet for local use and tests: one node of the FakeLightningNetwork. */
export class FakeWallet implements WalletBackend {
  private readonly ref: NodeRef;

  constructor(
    private readonly network: DurableObjectStub<FakeLightningNetwork>,
    nodeId: string,
    startMsat: number,
    private readonly chain: Network,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.ref = { id: nodeId, startMsat };
  }

  async getInfo(): Promise<WalletInfo> {
    const { pubkey } = await this.network.info(this.ref);
    return {
      kind: "fake",
      alias: "Satchel fake wallet",
      network: this.chain,
      pubkey,
      methods: ["get_info", "get_balance", "make_invoice", "pay_invoice", "lookup_invoice", "lookup_payment"],
    };
  }

  async getBalance(): Promise<Msat> {
    const { balanceMsat } = await this.network.info(this.ref);
    return msat(balanceMsat);
  }

  makeInvoice(req: { amountMsat: Msat; description: string; expirySeconds: number }): Promise<MadeInvoice> {
    return this.network.makeInvoice(this.ref, { ...req, network: this.chain, now: this.now() });
  }

  async payInvoice(req: PayInvoiceRequest): Promise<PaymentOutcome> {
    return (await this.network.payInvoice(this.ref, {
      paymentHash: req.paymentHash,
      amountMsat: req.amountMsat,
      feeLimitMsat: req.feeLimitMsat,
      now: this.now(),
    })) as PaymentOutcome;
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    return (await this.network.lookupInvoice(this.ref, paymentHash, this.now())) as InvoiceState;
  }

  async lookupPayment(paymentHash: string): Promise<PaymentOutcome | { status: "unknown" }> {
    return (await this.network.lookupPayment(this.ref, paymentHash)) as PaymentOutcome | { status: "unknown" };
  }

  /** The fake network charges only what setFee configures; reserve nothing by default. */
  feeReserveMsat(): Msat {
    return msat(0);
  }
}
