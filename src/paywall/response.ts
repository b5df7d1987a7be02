// What an agent sees of a paid API's answer: status, a few headers, and the body as JSON, text or a
// summary of binary data, capped so one answer cannot flood the model's context.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/** Characters of body text returned to the agent. */
export const MAX_BODY_CHARS = 32_768;

const SHOWN_HEADERS = [
  "content-type",
  "content-length",
  "content-language",
  "cache-control",
  "etag",
  "last-modified",
  "expires",
  "retry-after",
  "location",
  "link",
  "x-request-id",
  "payment-response",
  "x-payment-response",
  "www-authenticate",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
];

export interface ShownBody {
  body: unknown;
  body_type: "json" | "text" | "binary" | "empty";
  body_bytes: number;
  truncated: boolean;
  note: string | null;
}

/** The response headers worth showing, each capped. */
export function shownHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SHOWN_HEADERS) {
    const v = h.get(name);
    if (v !== null) out[name] = v.length > 512 ? `${v.slice(0, 512)}…` : v;
  }
  return out;
}

function isTextual(contentType: string): boolean {
  return /^text\/|[/+](json|xml|javascript|ecmascript|x-www-form-urlencoded|csv|yaml|graphql)\b/i.test(contentType);
}

/** Formats a body for the agent: JSON as JSON, text as text, binary as a summary; always capped. */
export function showBody(bytes: Uint8Array, contentType: string | null): ShownBody {
  const size = bytes.byteLength;
  if (size === 0) return { body: null, body_type: "empty", body_bytes: 0, truncated: false, note: null };
  const ct = (contentType ?? "").toLowerCase();
  let text: string | null = null;
  if (ct === "" || isTextual(ct)) {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      text = null;
    }
  }
  if (text === null) {
    return {
      body: { content_type: contentType, bytes: size, sha256: bytesToHex(sha256(bytes)) },
      body_type: "binary",
      body_bytes: size,
      truncated: false,
      note: `Binary body (${contentType ?? "unknown type"}, ${size} bytes) summarised, not returned.`,
    };
  }
  const looksJson = /[/+]json\b/.test(ct) || (ct === "" && /^\s*[[{]/.test(text));
  if (looksJson && text.length <= MAX_BODY_CHARS) {
    try {
      return { body: JSON.parse(text) as unknown, body_type: "json", body_bytes: size, truncated: false, note: null };
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  if (text.length > MAX_BODY_CHARS) {
    return {
      body: text.slice(0, MAX_BODY_CHARS),
      body_type: "text",
      body_bytes: size,
      truncated: true,
      note: `Body truncated: showing the first ${MAX_BODY_CHARS} of ${text.length} characters (${size} bytes)${looksJson ? "; the JSON is returned as text because it was cut" : ""}.`,
    };
  }
  return { body: text, body_type: "text", body_bytes: size, truncated: false, note: null };
}
