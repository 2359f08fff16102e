-- Chat-app installations (multi-workspace OAuth) and the short-lived OAuth `state` values.
-- `bot_token` is a secret: it lives only in this 0600 database file and is never logged.
-- An empty `team_id` is an org-wide install; an empty `enterprise_id` is a plain workspace.

CREATE TABLE installations (
    platform        TEXT NOT NULL,
    enterprise_id   TEXT NOT NULL DEFAULT '',
    team_id         TEXT NOT NULL DEFAULT '',
    bot_token       TEXT NOT NULL,
    bot_user_id     TEXT,
    bot_id          TEXT,
    scopes          TEXT NOT NULL DEFAULT '',
    installer_id    TEXT,
    installed_at    TEXT NOT NULL,
    data            TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (platform, enterprise_id, team_id)
);
CREATE INDEX installations_by_team ON installations (platform, team_id, installed_at);

CREATE TABLE oauth_states (
    state       TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
