// L402 (formerly LSAT) headers, parsed the way servers really send them: `L402` or `LSAT`,
// `macaroon=` or `token=`, quoted or not, `version` or not, commas or not, several challenges in one
// header (a joined list of WWW-Authenticate headers is one header). Pure functions, no I/O.
import { decodeIdentifier, decodeMacaroon, base64ToBytes } from "./macaroon";

export type L402Scheme = "L402" | "LSAT";

export interface AuthChallenge {
  /** As sent; compare case-insensitively. */
  scheme: string;
  /** Parameter names lowercased. */
  params: Record<string, string>;
}

export interface L402Challenge {
  scheme: L402Scheme;
  /** The macaroon (or opaque token) to present with the preimage. */
  macaroon: string;
  invoice: string;
  version: string | null;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
/** WWW-Authenticate values come from strangers: parse at most this much. */
const MAX_HEADER_CHARS = 16_384;

/**
 * Splits a WWW-Authenticate value into challenges (RFC 9110 syntax, leniently): a token not followed
 * by "=" starts a challenge, `name=value` pairs (quoted or not, with or without commas) belong to the
 * last one. A token68 (e.g. `Bearer abc==`) is kept under the parameter name "".
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const s = header.slice(0, MAX_HEADER_CHARS);
  const out: AuthChallenge[] = [];
  let i = 0;
  const skip = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const value = (): string => {
    if (s[i] === '"' || s[i] === "'") {
      const quote = s[i++];
      let v = "";
      while (i < s.length && s[i] !== quote) {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        v += s[i++];
      }
      i++;
      return v;
    }
    const start = i;
    while (i < s.length && s[i] !== "," && s[i] !== " " && s[i] !== "\t") i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skip();
    if (i >= s.length) break;
    const start = i;
    const name = token();
    if (name === "") {
      // Not a token: skip one character of garbage and go on.
      i = start + 1;
      continue;
    }
    let j = i;
    while (j < s.length && (s[j] === " " || s[j] === "\t")) j++;
    if (s[j] === "=" && s[j + 1] !== "=" && out.length > 0) {
      i = j + 1;
      while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
      out[out.length - 1]!.params[name.toLowerCase()] = value();
      continue;
    }
    const challenge: AuthChallenge = { scheme: name, params: {} };
    out.push(challenge);
    // A token68 right after the scheme (no "name=" form).
    i = j;
    const t68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(s.slice(i));
    if (t68 && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=[^=]/.test(s.slice(i))) {
      challenge.params[""] = t68[0];
      i += t68[0].length;
    }
  }
  return out;
}

/** The L402/LSAT challenges in a WWW-Authenticate value that carry both a macaroon and an invoice. */
export function parseL402Challenges(header: string): L402Challenge[] {
  const found: L402Challenge[] = [];
  for (const c of parseAuthChallenges(header)) {
    const scheme = c.scheme.toUpperCase();
    if (scheme !== "L402" && scheme !== "LSAT") continue;
    const macaroon = (c.params.macaroon ?? c.params.token ?? "").trim();
    const invoice = (c.params.invoice ?? "")
      .trim()
      .replace(/^lightning:/i, "")
      .toLowerCase();
    if (!macaroon || !invoice) continue;
    found.push({ scheme, macaroon, invoice, version: c.params.version ?? null });
  }
  return found;
}

/** True when the header offers L402 or LSAT at all, even malformed (so garbage is reported as such). */
export function mentionsL402(header: string): boolean {
  return parseAuthChallenges(header).some((c) => /^(l402|lsat)$/i.test(c.scheme));
}

/**
 * Picks the challenge to pay: the first `L402` one, else the first `LSAT` one (then the credential
 * is sent with the LSAT scheme, which is all such a server understands).
 */
export function pickL402Challenge(challenges: L402Challenge[]): L402Challenge | null {
  return challenges.find((c) => c.scheme === "L402") ?? challenges[0] ?? null;
}

/**
 * The payment hash a token commits to, when it says: a macaroon with a v0 identifier, or the JSON
 * token of `@getalby/lightning-tools`' server helpers (`base64url(JSON).hexmac`, with paymentHash).
 * Null when the token does not tell (then only the invoice itself can be checked).
 */
export function tokenPaymentHash(token: string): string | null {
  const first = token.split(",")[0]!.trim();
  try {
    const id = decodeIdentifier(decodeMacaroon(first).identifier);
    if (id) return id.paymentHash;
  } catch {
    // Not a macaroon: maybe another token format.
  }
  const dot = first.lastIndexOf(".");
  if (dot > 0 && /^[0-9a-f]{64}$/i.test(first.slice(dot + 1))) {
    try {
      const json = JSON.parse(new TextDecoder().decode(base64ToBytes(first.slice(0, dot)))) as unknown;
      const hash = (json as { paymentHash?: unknown } | null)?.paymentHash;
      if (typeof hash === "string" && /^[0-9a-f]{64}$/i.test(hash)) return hash.toLowerCase();
    } catch {
      // Not that format either.
    }
  }
  return null;
}

/** The Authorization value for a paid challenge. */
export function l402Authorization(scheme: L402Scheme, macaroon: string, preimage: string): string {
  return `${scheme} ${macaroon}:${preimage}`;
}

/** Reads `L402 <macaroon>:<preimage>` (or LSAT, or a bare `<macaroon>:<preimage>`). */
export function parseL402Token(
  value: string,
): { scheme: L402Scheme | null; macaroon: string; preimage: string } | null {
  const m = /^\s*(?:(L402|LSAT)\s+)?(\S+)\s*$/i.exec(value);
  if (!m) return null;
  const cred = m[2]!;
  const colon = cred.lastIndexOf(":");
  if (colon <= 0) return null;
  const preimage = cred.slice(colon + 1).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(preimage)) return null;
  return {
    scheme: m[1] ? (m[1].toUpperCase() as L402Scheme) : null,
    macaroon: cred.slice(0, colon),
    preimage,
  };
}

/** A WWW-Authenticate value offering the same challenge under L402 and legacy LSAT. */
export function l402Header(macaroon: string, invoice: string): string {
  return `L402 macaroon="${macaroon}", invoice="${invoice}"`;
}
