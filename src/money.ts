import { SatchelError } from "./errors";

declare const msatBrand: unique symbol;
declare const satsBrand: unique symbol;

/** Millisatoshis: the only unit used inside Satchel. */
export type Msat = number & { readonly [msatBrand]: true };
/** Satoshis: the only unit at the tool boundary. */
export type Sats = number & { readonly [satsBrand]: true };

/** 21M BTC in msats (2.1e18) exceeds 2^53, so amounts are capped at 21,000 BTC: exact as numbers, far above any sane payment. */
export const MAX_MSAT = 2_100_000_000_000_000;
export const MAX_SATS = MAX_MSAT / 1000;

/** Asserts a non-negative safe integer number of msats. */
export function msat(value: number): Msat {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_MSAT) {
    throw new SatchelError("INVALID_INPUT", `Invalid msat amount: ${String(value)}`);
  }
  return value as Msat;
}

/** Asserts a non-negative safe integer number of sats. */
export function sats(value: number): Sats {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_SATS) {
    throw new SatchelError("INVALID_INPUT", `Invalid sat amount: ${String(value)}`);
  }
  return value as Sats;
}

export function satsToMsat(value: Sats | number): Msat {
  return msat(value * 1000);
}

/** Rounds up: a reported cost must never look smaller than what was paid. */
export function msatToSatsCeil(value: Msat | number): Sats {
  return sats(Math.ceil(value / 1000));
}

/** Rounds down: a reported spendable amount must never look larger than it is. */
export function msatToSatsFloor(value: Msat | number): Sats {
  return sats(Math.floor(value / 1000));
}
