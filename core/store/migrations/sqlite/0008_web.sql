-- The web inbox's sign-in (issue 17): one-time login links and the browser sessions they open.
--
-- web_links: a link printed by `sessionbot web login`. The token in the URL is never stored:
-- `token_hash` is its SHA-256 hex digest. `used_at` is set by the one sign-in that takes the
-- link (an UPDATE guarded by `used_at IS NULL`), so a link is used at most once; it is refused
-- after `expires_at` too. `admin` is 0 or 1.
CREATE TABLE web_links (
    token_hash  TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

-- web_sessions: a signed-in browser. `id_hash` is the SHA-256 hex of the session id the
-- cookie carries; `csrf` is the token every form of that browser posts back. A session ends
-- after `idle` without a request (`seen_at`), at `expires_at` whatever happens, or at logout
-- (`ended_at`).
CREATE TABLE web_sessions (
    id_hash     TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
