-- How operators sign in without a third party: passkeys (WebAuthn) and LNURL-auth linking keys,
-- a recovery code per operator (only its hash), and the short-lived challenges of sign-in
-- ceremonies. docs/storage.md explains every table.

CREATE TABLE passkeys (
  id            TEXT PRIMARY KEY,              -- WebAuthn credential id, base64url
  operator_id   TEXT NOT NULL REFERENCES operators(id),
  public_key    TEXT NOT NULL,                 -- COSE public key, base64url (public: not a secret)
  counter       INTEGER NOT NULL DEFAULT 0,    -- signature counter; 0 for authenticators that keep none
  transports    TEXT,                          -- JSON array of transport hints, e.g. ["internal","hybrid"]
  backed_up     INTEGER NOT NULL DEFAULT 0,    -- 1: a synced (multi-device) passkey
  created_at    INTEGER NOT NULL,              -- unix ms
  last_used_at  INTEGER                        -- unix ms
);
CREATE INDEX passkeys_by_operator ON passkeys(operator_id);

CREATE TABLE lnurl_keys (
  linking_key   TEXT PRIMARY KEY,              -- LUD-04 `key`: compressed secp256k1 public key, hex
  operator_id   TEXT NOT NULL REFERENCES operators(id),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER
);
CREATE INDEX lnurl_keys_by_operator ON lnurl_keys(operator_id);

CREATE TABLE recovery_codes (
  operator_id   TEXT PRIMARY KEY REFERENCES operators(id),
  code_hash     TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the normalised code; the code is shown once
  created_at    INTEGER NOT NULL
);

-- One row per sign-in ceremony: an LNURL-auth k1 waiting for a wallet's signature, or a WebAuthn
-- challenge waiting for the browser. Bound to the browser that started it (a cookie's hash), so
-- seeing a k1 on someone's screen does not let you finish their sign-in.
CREATE TABLE auth_challenges (
  id            TEXT PRIMARY KEY,              -- lnurl: k1 (64 hex); passkeys: a random handle
  kind          TEXT NOT NULL CHECK (kind IN ('lnurl', 'passkey_register', 'passkey_login')),
  browser_hash  TEXT NOT NULL,                 -- SHA-256 of the browser-binding cookie
  challenge     TEXT,                          -- WebAuthn challenge (base64url); NULL for lnurl
  operator_id   TEXT,                          -- passkey_register: the operator the passkey is for
  operator_name TEXT,                          -- passkey_register of a new operator: its name
  creates_operator INTEGER NOT NULL DEFAULT 0, -- passkey_register: 1 when the operator does not exist yet
  linking_key   TEXT,                          -- lnurl: the key whose signature verified
  status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'used')),
  created_at    INTEGER NOT NULL,              -- unix ms
  expires_at    INTEGER NOT NULL               -- unix ms
);
CREATE INDEX auth_challenges_by_expiry ON auth_challenges(expires_at);
