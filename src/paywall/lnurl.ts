import { getConfig } from "../config";
import { SatchelError } from "../errors";
import { call, ledgerStub, payThroughLedger } from "../ledger/client";
import type { EntryView, PaymentView } from "../ledger/views";
import {
  fetchLnurl,
  lightningAddressUrl,
  linkingKey,
  lnurlToUrl,
  parseAuthRequest,
  parsePayRequest,
  parseWithdrawRequest,
  requestPayInvoice,
  signAuth,
  submitWithdraw,
  successActionOf,
  type LnurlOptions,
} from "../lightning/lnurl";

/** Plain http to loopback services only in development, as for paid APIs. */
const lnurlOptions = (env: Env): LnurlOptions => ({ allowLoopbackHttp: getConfig(env).development });

/** Who pays and within which session: the agent and its spending session (with any connection cap). */
export interface PayingAgent {
  env: Env;
  agentId: string;
  sessionId: string;
  sessionLimitMsat?: number;
}

/**
 * Pays a Lightning address or LNURL-pay link (LUD-16 → LUD-06): resolves it, checks amount,
 * comment and the returned invoice against the recipient's metadata BEFORE paying, then pays
 * through the agent's ledger like any invoice.
 */
export async function payLightningAddress(
  who: PayingAgent,
  req: { address: string; amountMsat: number; comment?: string; maxPaymentMsat?: number; idempotencyKey?: string },
): Promise<{
  payment: PaymentView;
  recipient: string;
  description: string | null;
  successAction: ReturnType<typeof successActionOf>;
}> {
  const opts = lnurlOptions(who.env);
  const address = req.address.trim();
  const isAddress = address.includes("@") && !/^lnurl/i.test(address) && !address.includes("://");
  const url = isAddress ? lightningAddressUrl(address, opts) : lnurlToUrl(address, opts);
  const params = parsePayRequest(await fetchLnurl(url), opts);
  const { invoice, successAction } = await requestPayInvoice(params, req.amountMsat, req.comment);
  const recipient = isAddress ? address.toLowerCase() : url.host;
  const payment = await payThroughLedger(who.env, who.agentId, {
    invoice: invoice.invoice,
    ...(req.maxPaymentMsat === undefined ? {} : { maxPaymentMsat: req.maxPaymentMsat }),
    ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
    sessionId: who.sessionId,
    ...(who.sessionLimitMsat === undefined ? {} : { sessionLimitMsat: who.sessionLimitMsat }),
    memo: `${recipient}${params.description ? `: ${params.description}` : ""}`.slice(0, 300),
  });
  return { payment, recipient, description: params.description, successAction: successActionOf(successAction) };
}

/**
 * Claims an LNURL-withdraw link (LUD-03): an invoice in the agent's name, handed to the service,
 * then one look at whether it was paid (services usually pay at once).
 */
export async function claimLnurlWithdraw(
  env: Env,
  agentId: string,
  req: { lnurl: string; amountMsat?: number; description?: string },
): Promise<{ entry: EntryView; service: string }> {
  const opts = lnurlOptions(env);
  const url = lnurlToUrl(req.lnurl, opts);
  const w = parseWithdrawRequest(await fetchLnurl(url), opts);
  const amountMsat = req.amountMsat ?? Math.floor(w.maxWithdrawableMsat / 1000) * 1000;
  if (amountMsat < w.minWithdrawableMsat || amountMsat > w.maxWithdrawableMsat || amountMsat < 1000) {
    throw new SatchelError(
      "INVALID_INPUT",
      `This link allows ${Math.ceil(w.minWithdrawableMsat / 1000)} to ${Math.floor(w.maxWithdrawableMsat / 1000)} sats.`,
      { hint: "Choose an amount in that range." },
    );
  }
  const ledger = ledgerStub(env, agentId);
  const e = await call(
    ledger.createInvoice({
      amountMsat,
      description: req.description ?? (w.defaultDescription || `LNURL-withdraw from ${url.host}`),
      expirySeconds: 3600,
    }),
  );
  await submitWithdraw(w, e.invoice!);
  return { entry: await call(ledger.invoiceStatus(e.paymentHash!)), service: url.host };
}

/**
 * Logs in with LNURL-auth (LUD-04): signs the service's k1 with a key derived for this agent and
 * this domain only, and calls the service back. Moves no money.
 */
export async function lnurlLogin(
  env: Env,
  agentId: string,
  lnurl: string,
): Promise<{ domain: string; linkingPubkey: string; action: string | null }> {
  const req = parseAuthRequest(lnurlToUrl(lnurl, lnurlOptions(env)));
  const secret = getConfig(env).walletSecretKey;
  if (!secret) {
    throw new SatchelError("WALLET_NOT_CONFIGURED", "This server has no WALLET_SECRET_KEY to derive login keys from.", {
      hint: "The server's operator must set WALLET_SECRET_KEY.",
    });
  }
  const { callback, linkingPubkey } = signAuth(req, linkingKey(secret, agentId, req.domain));
  const body = await fetchLnurl(callback).catch((e: unknown) => {
    if (e instanceof SatchelError && e.code === "PAYMENT_FAILED") {
      throw new SatchelError(
        "FORBIDDEN",
        e.message.replace("The LNURL service refused", "The service refused the login"),
        {
          hint: "The challenge may have expired or been used already; ask the service for a new one.",
        },
      );
    }
    throw e;
  });
  if (body.status !== "OK") throw new SatchelError("FORBIDDEN", "The service did not confirm the login.");
  return { domain: req.domain, linkingPubkey, action: req.action };
}
