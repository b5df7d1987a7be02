-- Browser sessions of signed-in operators (dashboard, consent). The cookie holds a random token;
-- only its SHA-256 is stored.
CREATE TABLE web_sessions (
  token_hash   TEXT PRIMARY KEY,
  operator_id  TEXT NOT NULL REFERENCES operators(id),
  csrf_token   TEXT NOT NULL,               -- per-session CSRF token, embedded in every form
  created_at   INTEGER NOT NULL,            -- unix ms
  expires_at   INTEGER NOT NULL             -- unix ms
);
CREATE INDEX web_sessions_by_operator ON web_sessions(operator_id);
