-- The Slack App Home (issue 20): who opened it, so a change republishes only their Homes.
--
-- home_viewers: one row per person who opened the Home tab at least once; `admin`
-- is what the last opening found, so a workspace admin's Home is republished on every change
-- of their workspace. A change enqueues one outbox row (kind `home`) per viewer it concerns,
-- keyed per viewer and time window, so many changes at once publish a few times.
CREATE TABLE home_viewers (
    workspace   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    admin       boolean NOT NULL DEFAULT false,
    opened_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace, user_id)
);
CREATE INDEX home_viewers_admins ON home_viewers (workspace) WHERE admin;
