-- Requests from a session's agent: action approvals (action + JSON args) and questions.
-- A vote binds to the digest of (action, args) it saw; an edit changes the digest, so
-- approvals of the older arguments stop counting.
CREATE TABLE requests (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    action      TEXT NOT NULL DEFAULT '',
    args        TEXT NOT NULL DEFAULT '{}',
    summary     TEXT NOT NULL DEFAULT '',
    risk        TEXT NOT NULL DEFAULT 'low',
    need        INTEGER NOT NULL DEFAULT 1,
    approvers   TEXT NOT NULL DEFAULT '[]',
    on_expiry   TEXT NOT NULL DEFAULT 'reject',
    expires_at  TEXT,
    question    TEXT NOT NULL DEFAULT '',
    choices     TEXT NOT NULL DEFAULT '[]',
    free_text   INTEGER NOT NULL DEFAULT 0,
    digest      TEXT NOT NULL DEFAULT '',
    decided_by  TEXT,
    decided_at  TEXT,
    reason      TEXT,
    answer      TEXT,
    edited_args TEXT,
    escalated   INTEGER NOT NULL DEFAULT 0,
    row_version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX requests_of_session ON requests (session_id, created_at);
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE status = 'pending';

CREATE TABLE request_votes (
    request_id  TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    decision    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    at          TEXT NOT NULL,
    reason      TEXT,
    PRIMARY KEY (request_id, user_id)
);

CREATE TABLE request_messages (
    request_id  TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    PRIMARY KEY (request_id, platform, channel_id, message_ref)
);
