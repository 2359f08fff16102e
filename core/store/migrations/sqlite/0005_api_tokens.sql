-- API tokens (§11) and the first responses kept for `Idempotency-Key` replays.
--
-- api_tokens: `id` is the token's public key id (16 hex characters, part of the token text
-- `sbt_<id>_<secret>`). The token itself is never stored: `token_hash` is the SHA-256 hex
-- digest of the whole token text. `admin` is 0 or 1 (a boolean). A revoked token keeps its
-- row with `revoked_at` set; at most one active token per (workspace, name).
-- Timestamps are UTC ISO text, as in every other table.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    workspace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    token_hash    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_by_workspace ON api_tokens (workspace, created_at);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (workspace, name)
    WHERE revoked_at IS NULL;

-- api_responses: the response to the first POST with a given Idempotency-Key. `key` is the
-- inbound dedupe ledger's key (`api:<token id>:<header value>`), claimed in the same
-- transaction, so the ledger's 24 h purge removes the response too. `request_hash` is the
-- SHA-256 hex of method, path and body; `status` and `body` stay NULL while the first
-- request is still running.
CREATE TABLE api_responses (
    key           TEXT PRIMARY KEY REFERENCES inbound_dedupe(key) ON DELETE CASCADE,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    body          TEXT
);
