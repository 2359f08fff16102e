-- The web inbox's sign-in (issue 17): one-time login links and the browser sessions they open.
--
-- web_links: a link printed by `sessionbot web login`. The token in the URL is never stored:
-- `token_hash` is its SHA-256 hex digest. `used_at` is set by the one sign-in that takes the
-- link (an UPDATE guarded by `used_at IS NULL`), so a link is used at most once; it is refused
-- after `expires_at` too.
CREATE TABLE web_links (
    token_hash  text COLLATE "C" PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    admin       boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- web_sessions: a signed-in browser. `id_hash` is the SHA-256 hex of the session id the
-- cookie carries; `csrf` is the token every form of that browser posts back. A session ends
-- after `idle` without a request (`seen_at`), at `expires_at` whatever happens, or at logout
-- (`ended_at`).
CREATE TABLE web_sessions (
    id_hash     text COLLATE "C" PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    admin       boolean NOT NULL DEFAULT false,
    csrf        text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
