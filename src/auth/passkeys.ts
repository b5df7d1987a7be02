import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { newId } from "../ids";
import { getOperator, insertOperator } from "../store/accounts";
import { issueRecoveryCode } from "./recovery";

/**
 * Passkeys (WebAuthn) for operators. The relying party is the host the page is served from (RP ID
 * = hostname, origin = the request's origin), so the same code works on localhost and on a deployed
 * Worker. Sign-in uses discoverable credentials: no user name is typed, the authenticator offers
 * the passkeys it holds for this host.
 */

const RP_NAME = "Satchel";
const TTL_MS = 5 * 60 * 1000;

/** Where a ceremony runs: the page's origin and host. */
export interface RelyingParty {
  origin: string;
  rpId: string;
}

export function relyingPartyOf(request: Request): RelyingParty {
  const url = new URL(request.url);
  return { origin: url.origin, rpId: url.hostname };
}

async function saveChallenge(
  env: Env,
  row: {
    kind: "passkey_register" | "passkey_login";
    browserHash: string;
    challenge: string;
    operatorId?: string;
    operatorName?: string;
    createsOperator?: boolean;
  },
): Promise<string> {
  const handle = bytesToHex(randomBytes(16));
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("DELETE FROM auth_challenges WHERE expires_at < ?").bind(now - TTL_MS),
    env.DB.prepare(
      `INSERT INTO auth_challenges (id, kind, browser_hash, challenge, operator_id, operator_name, creates_operator, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).bind(
      handle,
      row.kind,
      row.browserHash,
      row.challenge,
      row.operatorId ?? null,
      row.operatorName ?? null,
      row.createsOperator ? 1 : 0,
      now,
      now + TTL_MS,
    ),
  ]);
  return handle;
}

/** Consumes a pending ceremony of this browser (single use), or null. */
async function takeChallenge(env: Env, handle: string, kind: string, browserHash: string) {
  if (!/^[0-9a-f]{32}$/.test(handle)) return null;
  return env.DB.prepare(
    `UPDATE auth_challenges SET status = 'used'
     WHERE id = ? AND kind = ? AND browser_hash = ? AND status = 'pending' AND expires_at > ?
     RETURNING challenge, operator_id, operator_name, creates_operator`,
  )
    .bind(handle, kind, browserHash, Date.now())
    .first<{ challenge: string; operator_id: string | null; operator_name: string | null; creates_operator: number }>();
}

/**
 * Options for creating a passkey: for a new operator (sign-up, `name` given) or for an existing
 * one (`operatorId`: after recovery, or adding a device).
 */
export async function registrationOptions(
  env: Env,
  rp: RelyingParty,
  browserHash: string,
  who: { newOperatorName: string } | { operatorId: string },
): Promise<{ handle: string; options: PublicKeyCredentialCreationOptionsJSON }> {
  let operatorId: string;
  let name: string;
  let exclude: { id: string }[] = [];
  if ("operatorId" in who) {
    const op = await getOperator(env.DB, who.operatorId);
    if (!op) throw new Error("registration for an unknown operator");
    operatorId = op.id;
    name = op.name;
    const { results } = await env.DB.prepare("SELECT id FROM passkeys WHERE operator_id = ?")
      .bind(operatorId)
      .all<{ id: string }>();
    exclude = results;
  } else {
    operatorId = newId("opr");
    name = who.newOperatorName;
  }
  const options = await generateRegistrationOptions({
    rpName: RP_NAME,
    rpID: rp.rpId,
    userName: name,
    userDisplayName: name,
    userID: utf8ToBytes(operatorId),
    attestationType: "none",
    excludeCredentials: exclude,
    authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
  });
  const handle = await saveChallenge(env, {
    kind: "passkey_register",
    browserHash,
    challenge: options.challenge,
    operatorId,
    operatorName: name,
    createsOperator: !("operatorId" in who),
  });
  return { handle, options };
}

/**
 * Verifies a new passkey and stores it; creates the operator on sign-up, with a recovery code to
 * show once. Null when the ceremony is unknown, used, expired, from another browser, or invalid.
 */
export async function verifyRegistration(
  env: Env,
  rp: RelyingParty,
  browserHash: string,
  handle: string,
  response: RegistrationResponseJSON,
): Promise<{ operatorId: string; recoveryCode: string | null } | null> {
  const ceremony = await takeChallenge(env, handle, "passkey_register", browserHash);
  if (!ceremony?.operator_id || !ceremony.challenge) return null;
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpId,
      requireUserVerification: false,
    });
  } catch {
    return null;
  }
  if (!verification.verified) return null;
  const { credential, credentialBackedUp } = verification.registrationInfo;
  const now = Date.now();
  const operatorId = ceremony.operator_id;
  if (ceremony.creates_operator) {
    await insertOperator(env.DB, { id: operatorId, name: ceremony.operator_name ?? "Operator", createdAt: now });
  }
  const inserted = await env.DB.prepare(
    `INSERT OR IGNORE INTO passkeys (id, operator_id, public_key, counter, transports, backed_up, created_at, last_used_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      credential.id,
      operatorId,
      isoBase64URL.fromBuffer(credential.publicKey),
      credential.counter,
      JSON.stringify(credential.transports ?? []),
      credentialBackedUp ? 1 : 0,
      now,
      now,
    )
    .run();
  if (inserted.meta.changes !== 1) return null;
  const recoveryCode = ceremony.creates_operator ? await issueRecoveryCode(env, operatorId) : null;
  return { operatorId, recoveryCode };
}

/** Options for signing in with any passkey this host's authenticator holds. */
export async function authenticationOptions(
  env: Env,
  rp: RelyingParty,
  browserHash: string,
): Promise<{ handle: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  const options = await generateAuthenticationOptions({ rpID: rp.rpId, userVerification: "preferred" });
  const handle = await saveChallenge(env, { kind: "passkey_login", browserHash, challenge: options.challenge });
  return { handle, options };
}

/** The operator whose passkey signed this ceremony's challenge, or null. */
export async function verifyAuthentication(
  env: Env,
  rp: RelyingParty,
  browserHash: string,
  handle: string,
  response: AuthenticationResponseJSON,
): Promise<string | null> {
  const ceremony = await takeChallenge(env, handle, "passkey_login", browserHash);
  if (!ceremony?.challenge || typeof response?.id !== "string") return null;
  const stored = await env.DB.prepare(
    "SELECT id, operator_id, public_key, counter, transports FROM passkeys WHERE id = ?",
  )
    .bind(response.id)
    .first<{ id: string; operator_id: string; public_key: string; counter: number; transports: string | null }>();
  if (!stored) return null;
  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpId,
      credential: {
        id: stored.id,
        publicKey: isoBase64URL.toBuffer(stored.public_key),
        counter: stored.counter,
        transports: JSON.parse(stored.transports ?? "[]") as string[],
      },
      requireUserVerification: false,
    });
  } catch {
    return null;
  }
  if (!verification.verified) return null;
  await env.DB.prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?")
    .bind(verification.authenticationInfo.newCounter, Date.now(), stored.id)
    .run();
  return stored.operator_id;
}
