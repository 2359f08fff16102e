-- sessionbot schema v1: sessions, members, plans, approvals, modifications, events,
-- outbox, inbound dedupe ledger, job runs, reminders, subscriptions, workspace settings.

CREATE TABLE workspaces (
    workspace   TEXT PRIMARY KEY,
    next_ref    INTEGER NOT NULL DEFAULT 1,
    settings    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE sessions (
    id                      TEXT PRIMARY KEY,
    workspace               TEXT NOT NULL,
    ref                     INTEGER NOT NULL,
    channel_id              TEXT NOT NULL,
    thread_ref              TEXT,
    owner_id                TEXT NOT NULL,
    title                   TEXT NOT NULL,
    mode                    TEXT NOT NULL,
    status                  TEXT NOT NULL,
    context                 TEXT NOT NULL DEFAULT '{}',
    metadata                TEXT NOT NULL DEFAULT '{}',
    iterations              INTEGER NOT NULL DEFAULT 0,
    max_iterations          INTEGER NOT NULL DEFAULT 100,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    last_activity_at        TEXT NOT NULL,
    ended_at                TEXT,
    abandon_at              TEXT,
    result                  TEXT,
    outcome                 TEXT,
    error                   TEXT,
    parent_id               TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    forked_from_message_id  TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    UNIQUE (workspace, ref)
);
CREATE INDEX sessions_by_owner ON sessions (workspace, owner_id, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_status ON sessions (workspace, status, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_recency ON sessions (workspace, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_channel ON sessions (workspace, channel_id, owner_id, last_activity_at DESC);
CREATE INDEX sessions_due_abandon ON sessions (abandon_at)
    WHERE status IN ('active', 'paused', 'pending');

CREATE TABLE members (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    added_by    TEXT,
    added_at    TEXT,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE plans (
    id                  TEXT PRIMARY KEY,
    session_id          TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version             INTEGER NOT NULL,
    status              TEXT NOT NULL,
    content_hash        TEXT NOT NULL,
    required_approvals  INTEGER NOT NULL DEFAULT 1,
    submitted_by        TEXT NOT NULL,
    submitted_at        TEXT NOT NULL,
    decided_at          TEXT,
    decided_by          TEXT,
    decision_reason     TEXT,
    expires_at          TEXT,
    row_version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (session_id, version)
);
CREATE INDEX plans_pending_expiry ON plans (expires_at) WHERE status = 'pending';

CREATE TABLE plan_items (
    plan_id     TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    assignee    TEXT,
    status      TEXT NOT NULL DEFAULT 'todo',
    ticket      TEXT,
    comments    TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (plan_id, position)
);

CREATE TABLE approvals (
    plan_id         TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    decision        TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    reason          TEXT,
    at              TEXT NOT NULL,
    PRIMARY KEY (plan_id, user_id)
);

CREATE TABLE plan_messages (
    plan_id     TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    PRIMARY KEY (plan_id, platform, channel_id, message_ref)
);

CREATE TABLE plan_modifications (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    plan_id         TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    action          TEXT NOT NULL,
    value           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    processed       INTEGER NOT NULL DEFAULT 0,
    processed_at    TEXT,
    error           TEXT
);
CREATE INDEX modifications_by_plan ON plan_modifications (plan_id, created_at);

-- Keyed by an integer (appending is cheap); `id` is the event's UUID, unique by construction.
CREATE TABLE events (
    event_no    INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    source      TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    UNIQUE (session_id, seq)
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    workspace       TEXT NOT NULL,
    session_id      TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    result_ref      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE inbound_dedupe (
    key     TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE INDEX inbound_dedupe_by_age ON inbound_dedupe (seen_at);

CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    slot        TEXT NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (job, slot)
);

CREATE TABLE reminders (
    id          TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    session_id  TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    target      TEXT NOT NULL,
    text        TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'scheduled',
    created_at  TEXT NOT NULL
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'scheduled';

CREATE TABLE channel_subscriptions (
    workspace       TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    last_sent_at    TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (workspace, channel_id)
);

CREATE TABLE webhook_subscriptions (
    id          TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL DEFAULT '[]',
    active      INTEGER NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhook_subscriptions (workspace) WHERE active = 1;
