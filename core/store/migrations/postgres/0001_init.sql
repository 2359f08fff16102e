-- sessionbot schema v1 on PostgreSQL: the tables and columns of the SQLite schema, with
-- PostgreSQL types (see core/store/postgres/__init__.py for the mapping):
-- timestamps are timestamptz, JSON documents `json` (the text is kept as written), flags
-- boolean, and keys compared or sorted by the code are COLLATE "C" (byte order, as SQLite).
-- `outbox.row_no` and `plan_modifications.row_no` stand in for SQLite's rowid (insertion order).

CREATE TABLE workspaces (
    workspace   text COLLATE "C" PRIMARY KEY,
    next_ref    integer NOT NULL DEFAULT 1,
    settings    json NOT NULL DEFAULT '{}'
);

CREATE TABLE sessions (
    id                      text COLLATE "C" PRIMARY KEY,
    workspace               text COLLATE "C" NOT NULL,
    ref                     integer NOT NULL,
    channel_id              text COLLATE "C" NOT NULL,
    thread_ref              text,
    owner_id                text COLLATE "C" NOT NULL,
    title                   text NOT NULL,
    mode                    text COLLATE "C" NOT NULL,
    status                  text COLLATE "C" NOT NULL,
    context                 json NOT NULL DEFAULT '{}',
    metadata                json NOT NULL DEFAULT '{}',
    iterations              integer NOT NULL DEFAULT 0,
    max_iterations          integer NOT NULL DEFAULT 100,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    last_activity_at        timestamptz NOT NULL,
    ended_at                timestamptz,
    abandon_at              timestamptz,
    result                  text,
    outcome                 text COLLATE "C",
    error                   text,
    parent_id               text COLLATE "C" REFERENCES sessions(id) ON DELETE SET NULL,
    forked_from_message_id  text COLLATE "C",
    version                 integer NOT NULL DEFAULT 1,
    UNIQUE (workspace, ref)
);
CREATE INDEX sessions_by_owner ON sessions (workspace, owner_id, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_status ON sessions (workspace, status, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_recency ON sessions (workspace, last_activity_at DESC, ref DESC);
CREATE INDEX sessions_by_channel ON sessions (workspace, channel_id, owner_id, last_activity_at DESC);
CREATE INDEX sessions_due_abandon ON sessions (abandon_at)
    WHERE status IN ('active', 'paused', 'pending');

CREATE TABLE members (
    session_id  text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id     text COLLATE "C" NOT NULL,
    role        text COLLATE "C" NOT NULL,
    added_by    text,
    added_at    timestamptz,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE plans (
    id                  text COLLATE "C" PRIMARY KEY,
    session_id          text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version             integer NOT NULL,
    status              text COLLATE "C" NOT NULL,
    content_hash        text COLLATE "C" NOT NULL,
    required_approvals  integer NOT NULL DEFAULT 1,
    submitted_by        text COLLATE "C" NOT NULL,
    submitted_at        timestamptz NOT NULL,
    decided_at          timestamptz,
    decided_by          text COLLATE "C",
    decision_reason     text,
    expires_at          timestamptz,
    row_version         integer NOT NULL DEFAULT 1,
    UNIQUE (session_id, version)
);
CREATE INDEX plans_pending_expiry ON plans (expires_at) WHERE status = 'pending';

CREATE TABLE plan_items (
    plan_id     text COLLATE "C" NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    position    integer NOT NULL,
    title       text NOT NULL,
    assignee    text COLLATE "C",
    status      text COLLATE "C" NOT NULL DEFAULT 'todo',
    ticket      text,
    comments    json NOT NULL DEFAULT '[]',
    PRIMARY KEY (plan_id, position)
);

CREATE TABLE approvals (
    plan_id         text COLLATE "C" NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    user_id         text COLLATE "C" NOT NULL,
    decision        text COLLATE "C" NOT NULL,
    content_hash    text COLLATE "C" NOT NULL,
    reason          text,
    at              timestamptz NOT NULL,
    PRIMARY KEY (plan_id, user_id)
);

CREATE TABLE plan_messages (
    plan_id     text COLLATE "C" NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    platform    text COLLATE "C" NOT NULL,
    channel_id  text COLLATE "C" NOT NULL,
    message_ref text COLLATE "C" NOT NULL,
    PRIMARY KEY (plan_id, platform, channel_id, message_ref)
);

CREATE TABLE plan_modifications (
    id              text COLLATE "C" PRIMARY KEY,
    session_id      text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    plan_id         text COLLATE "C" NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    position        integer NOT NULL,
    user_id         text COLLATE "C" NOT NULL,
    action          text COLLATE "C" NOT NULL,
    value           text NOT NULL,
    created_at      timestamptz NOT NULL,
    processed       boolean NOT NULL DEFAULT false,
    processed_at    timestamptz,
    error           text,
    row_no          bigint GENERATED BY DEFAULT AS IDENTITY
);
CREATE INDEX modifications_by_plan ON plan_modifications (plan_id, created_at);

CREATE TABLE events (
    event_no    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id          text COLLATE "C" NOT NULL,
    session_id  text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    type        text COLLATE "C" NOT NULL,
    actor_id    text COLLATE "C" NOT NULL,
    source      text COLLATE "C" NOT NULL,
    data        json NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    UNIQUE (session_id, seq)
);

CREATE TABLE outbox (
    id              text COLLATE "C" PRIMARY KEY,
    workspace       text COLLATE "C" NOT NULL,
    session_id      text COLLATE "C" REFERENCES sessions(id) ON DELETE CASCADE,
    kind            text COLLATE "C" NOT NULL,
    target          json NOT NULL,
    payload         json NOT NULL,
    dedupe_key      text COLLATE "C" NOT NULL UNIQUE,
    status          text COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    result_ref      text,
    row_no          bigint GENERATED BY DEFAULT AS IDENTITY
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE inbound_dedupe (
    key     text COLLATE "C" PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
CREATE INDEX inbound_dedupe_by_age ON inbound_dedupe (seen_at);

CREATE TABLE job_runs (
    job         text COLLATE "C" NOT NULL,
    slot        timestamptz NOT NULL,
    claimed_by  text COLLATE "C" NOT NULL,
    claimed_at  timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (job, slot)
);

CREATE TABLE reminders (
    id          text COLLATE "C" PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    session_id  text COLLATE "C" REFERENCES sessions(id) ON DELETE CASCADE,
    target      text COLLATE "C" NOT NULL,
    text        text NOT NULL,
    due_at      timestamptz NOT NULL,
    created_by  text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL DEFAULT 'scheduled',
    created_at  timestamptz NOT NULL
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'scheduled';

CREATE TABLE channel_subscriptions (
    workspace       text COLLATE "C" NOT NULL,
    channel_id      text COLLATE "C" NOT NULL,
    schedule        text NOT NULL,
    timezone        text NOT NULL,
    last_sent_at    timestamptz,
    created_by      text COLLATE "C" NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (workspace, channel_id)
);

CREATE TABLE webhook_subscriptions (
    id          text COLLATE "C" PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    url         text NOT NULL,
    secret      text NOT NULL,
    events      json NOT NULL DEFAULT '[]',
    active      boolean NOT NULL DEFAULT true,
    created_by  text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhook_subscriptions (workspace) WHERE active;

-- A timestamp as the text the SQLite store keeps (`2026-01-05T09:00:00.000000+00:00`), for
-- keys built in SQL from a time (reminder ids), so they are the same on both backends.
CREATE FUNCTION iso_utc(value timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') $$;
