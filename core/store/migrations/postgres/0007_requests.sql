-- Requests from a session's agent: action approvals (action + JSON args) and questions.
-- A vote binds to the digest of (action, args) it saw; an edit changes the digest, so
-- approvals of the older arguments stop counting.
CREATE TABLE requests (
    id          text COLLATE "C" PRIMARY KEY,
    session_id  text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind        text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    created_by  text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL,
    action      text NOT NULL DEFAULT '',
    args        json NOT NULL DEFAULT '{}',
    summary     text NOT NULL DEFAULT '',
    risk        text COLLATE "C" NOT NULL DEFAULT 'low',
    need        integer NOT NULL DEFAULT 1,
    approvers   json NOT NULL DEFAULT '[]',
    on_expiry   text COLLATE "C" NOT NULL DEFAULT 'reject',
    expires_at  timestamptz,
    question    text NOT NULL DEFAULT '',
    choices     json NOT NULL DEFAULT '[]',
    free_text   boolean NOT NULL DEFAULT false,
    digest      text COLLATE "C" NOT NULL DEFAULT '',
    decided_by  text COLLATE "C",
    decided_at  timestamptz,
    reason      text,
    answer      text,
    edited_args json,
    escalated   boolean NOT NULL DEFAULT false,
    row_version integer NOT NULL DEFAULT 1
);
CREATE INDEX requests_of_session ON requests (session_id, created_at);
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE status = 'pending';

CREATE TABLE request_votes (
    request_id  text COLLATE "C" NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    user_id     text COLLATE "C" NOT NULL,
    decision    text COLLATE "C" NOT NULL,
    digest      text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL,
    reason      text,
    PRIMARY KEY (request_id, user_id)
);

CREATE TABLE request_messages (
    request_id  text COLLATE "C" NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    platform    text COLLATE "C" NOT NULL,
    channel_id  text COLLATE "C" NOT NULL,
    message_ref text COLLATE "C" NOT NULL,
    PRIMARY KEY (request_id, platform, channel_id, message_ref)
);
