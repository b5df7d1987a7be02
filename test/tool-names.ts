/**
 * The tool names each principal must see, written out by hand: the tests assert tools/list against
 * these, so adding, renaming or re-scoping a tool is a deliberate change here too.
 */
export const EVERYONE_TOOLS = ["decode_invoice", "get_info", "get_rate_limits", "whoami"];

export const AGENT_TOOLS = [
  "check_balance",
  "claim_lnurl_withdraw",
  "create_invoice",
  "create_l402_challenge",
  "get_budget_status",
  "get_invoice_status",
  "get_transactions",
  "keysend",
  "lnurl_auth",
  "pay_invoice",
  "pay_l402_api",
  "pay_l402_challenge",
  "pay_lightning_address",
  "verify_l402_payment",
];

export const OPERATOR_TOOLS = [
  "configure_budget",
  "configure_x402",
  "connect_wallet",
  "create_agent",
  "deactivate_agent",
  "delete_agent",
  "export_transactions",
  "fund_agent",
  "get_agent_analytics",
  "get_deposit_invoice",
  "get_payment_history",
  "list_agents",
  "reactivate_agent",
  "resolve_payment",
  "rotate_api_key",
  "set_budget",
  "sweep_agent",
  "transfer_to_agent",
  "withdraw",
];
