import { SatchelError, fromSerialized, type SerializedError } from "./errors";

/** A value or a coded error, as plain data: what Durable Object RPC methods return. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Runs fn and turns a SatchelError into an error result; other errors are bugs and propagate. */
export async function capture<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (e) {
    if (e instanceof SatchelError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

/** Returns the value or rethrows the SatchelError on the caller's side of an RPC boundary. */
export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw fromSerialized(r.error);
}
