-- Chat-app installations (multi-workspace OAuth) and the short-lived OAuth `state` values.
-- `bot_token` is a secret: keep the database private to the bot's role; it is never logged.
-- An empty `team_id` is an org-wide install; an empty `enterprise_id` is a plain workspace.

CREATE TABLE installations (
    platform        text COLLATE "C" NOT NULL,
    enterprise_id   text COLLATE "C" NOT NULL DEFAULT '',
    team_id         text COLLATE "C" NOT NULL DEFAULT '',
    bot_token       text NOT NULL,
    bot_user_id     text,
    bot_id          text,
    scopes          text NOT NULL DEFAULT '',
    installer_id    text,
    installed_at    timestamptz NOT NULL,
    data            json NOT NULL DEFAULT '{}',
    PRIMARY KEY (platform, enterprise_id, team_id)
);
CREATE INDEX installations_by_team ON installations (platform, team_id, installed_at);

CREATE TABLE oauth_states (
    state       text COLLATE "C" PRIMARY KEY,
    platform    text COLLATE "C" NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
