-- API tokens (§11) and the first responses kept for `Idempotency-Key` replays.
--
-- api_tokens: `id` is the token's public key id (16 hex characters, part of the token text
-- `sbt_<id>_<secret>`). The token itself is never stored: `token_hash` is the SHA-256 hex
-- digest of the whole token text. A revoked token keeps its row with `revoked_at` set; at
-- most one active token per (workspace, name). `admin` is a boolean (SQLite: 0/1).
CREATE TABLE api_tokens (
    id            text COLLATE "C" PRIMARY KEY,
    workspace     text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    user_id       text COLLATE "C" NOT NULL,
    admin         boolean NOT NULL DEFAULT false,
    token_hash    text COLLATE "C" NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
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
    key           text COLLATE "C" PRIMARY KEY REFERENCES inbound_dedupe(key) ON DELETE CASCADE,
    request_hash  text NOT NULL,
    status        integer,
    body          text
);
