/**
 * Reading dashboard form fields into domain values, with the same bounds as the MCP tools
 * (src/mcp/schemas.ts). Failures are INVALID_INPUT with a message naming the field, never echoing
 * what was typed.
 */
import { SatchelError } from "../errors";
import type { BudgetPolicy } from "../ledger/policy";
import { Host } from "../mcp/schemas";
import { MAX_SATS } from "../money";

/** A parsed form body (Hono's parseBody): files are ignored. */
export type FormBody = Record<string, string | File | (string | File)[]>;

/** A text field, "" when absent or not text. */
export function field(body: FormBody, name: string): string {
  const v = body[name];
  return typeof v === "string" ? v : "";
}

/** A whole number of sats from a field; null when empty and optional. */
export function satsField(
  body: FormBody,
  name: string,
  label: string,
  opts: { required: boolean; min: number },
): number | null {
  const text = field(body, name).trim().replace(/[,_ ]/g, "");
  if (text === "") {
    if (opts.required) throw new SatchelError("INVALID_INPUT", `${label} is required.`);
    return null;
  }
  if (!/^\d{1,16}$/.test(text)) throw new SatchelError("INVALID_INPUT", `${label} must be a whole number of sats.`);
  const n = Number(text);
  if (n < opts.min || n > MAX_SATS) {
    throw new SatchelError("INVALID_INPUT", `${label} must be between ${opts.min} and ${MAX_SATS} sats.`);
  }
  return n;
}

/** Allowed hosts from a textarea (commas, spaces or new lines); null (all hosts) when empty. */
export function hostsField(body: FormBody, name: string): string[] | null {
  const items = field(body, name)
    .split(/[\s,]+/)
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  if (items.length === 0) return null;
  if (items.length > 100) throw new SatchelError("INVALID_INPUT", "At most 100 allowed hosts.");
  for (const h of items) {
    if (!Host.safeParse(h).success) {
      throw new SatchelError(
        "INVALID_INPUT",
        "Allowed hosts must be host names like api.example.com or *.example.com.",
      );
    }
  }
  return [...new Set(items)];
}

const limitMsat = (sats: number | null) => (sats === null ? null : sats * 1000);

/** Every limit field of the form; an empty field removes that limit. */
export function limitsFromForm(body: FormBody): BudgetPolicy {
  return {
    maxPerPaymentMsat: limitMsat(
      satsField(body, "max_per_payment_sats", "Max per payment", { required: false, min: 0 }),
    ),
    dailyLimitMsat: limitMsat(satsField(body, "daily_limit_sats", "Daily limit", { required: false, min: 0 })),
    budgetLimitMsat: limitMsat(satsField(body, "budget_limit_sats", "Lifetime budget", { required: false, min: 0 })),
    perSessionLimitMsat: limitMsat(
      satsField(body, "per_session_limit_sats", "Per-session limit", { required: false, min: 0 }),
    ),
    allowedHosts: hostsField(body, "allowed_hosts"),
  };
}

/** An agent name: 1 to 100 characters after trimming (any text; pages escape it). */
export function nameField(body: FormBody): string {
  const name = field(body, "name").trim();
  if (name.length < 1 || name.length > 100) {
    throw new SatchelError("INVALID_INPUT", "The agent's name must be 1 to 100 characters.");
  }
  return name;
}

/** Ids in URLs: anything not shaped like one is simply not found. */
export const AGENT_ID = /^agt_[0-9a-f]{24}$/;
export const KEY_ID = /^key_[0-9a-f]{24}$/;
