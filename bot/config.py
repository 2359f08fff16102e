"""Configuration from the environment (and a `.env` file), validated at start-up.

`VARIABLES` lists every variable read here with its default and a one-line meaning: it is
the source of `sessionbot --help`'s list and of `.env.example`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from core.durations import parse_duration
from core.errors import ConfigError
from core.jobs.webhook_policy import WebhookPolicy, system_addresses
from core.models import WorkspaceSettings
from core.services.config import HistoryConfig, ServiceConfig

DEFAULT_DATABASE_URL = "sqlite:///./data/sessions.db"


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: its name, its default as written in `.env`, its meaning."""

    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "SESSIONBOT_DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "the database: sqlite:///file.db or postgresql://user:password@host:5432/db",
    ),
    Variable(
        "SESSIONBOT_HTTP_HOST", "127.0.0.1", "address of the HTTP server (API, health, Slack)"
    ),
    Variable("SESSIONBOT_HTTP_PORT", "3000", "port of the HTTP server"),
    Variable(
        "SESSIONBOT_ADMINS", "", "user ids that are admins in every workspace, comma-separated"
    ),
    Variable("SESSIONBOT_TIMEZONE", "UTC", "default IANA timezone of workspaces"),
    Variable("SESSIONBOT_ABANDON_AFTER", "24h", "idle time before a session is abandoned"),
    Variable("SESSIONBOT_ARCHIVE_AFTER", "7d", "time after a session ended before it is archived"),
    Variable("SESSIONBOT_RETENTION", "30d", "time an archived session is kept before cleanup"),
    Variable(
        "SESSIONBOT_REMIND_PENDING_AFTER",
        "2h",
        "remind approvers of a pending plan after this long",
    ),
    Variable(
        "SESSIONBOT_REMIND_PAUSED_AFTER", "24h", "remind the owner of a paused session after this"
    ),
    Variable(
        "SESSIONBOT_ABANDON_WARNING_BEFORE", "4h", "warn the owner this long before abandoning"
    ),
    Variable("SESSIONBOT_SWEEP_INTERVAL", "60s", "how often the scheduler's sweep runs"),
    Variable(
        "SESSIONBOT_MAX_MESSAGE_BYTES", "65536", "largest message of a session's history (bytes)"
    ),
    Variable("SESSIONBOT_MAX_CONTEXT_BYTES", "262144", "largest context of a session (JSON bytes)"),
    Variable("SESSIONBOT_HISTORY_PAGE_SIZE", "20", "messages per page of `/session history`"),
    Variable("SESSIONBOT_ARCHIVE_DIR", "./data/archive", "where cleanup writes gzip JSON exports"),
    Variable("SESSIONBOT_LOG_LEVEL", "info", "debug, info, warning or error (libraries: warning)"),
    Variable("SESSIONBOT_LOG_FORMAT", "text", "text, or json for one JSON object per line"),
    Variable(
        "SESSIONBOT_LOG_FILE",
        "",
        "log to this file (created 0600); the console's default: sessionbot.log by the database",
    ),
    Variable(
        "SESSIONBOT_MAX_WAITS_PER_TOKEN",
        "200",
        "long-polls (?wait=) and event streams one API token may hold open at once",
    ),
    Variable(
        "SESSIONBOT_WEBHOOK_ALLOW",
        "",
        "internal hosts, addresses or CIDRs webhooks may reach (operator only), comma-separated",
    ),
    Variable("SESSIONBOT_WEB", "off", "on: serve the web inbox under /web (see the README)"),
    Variable(
        "SESSIONBOT_PUBLIC_URL",
        "",
        "public base URL of the HTTP server (https://…): sign-in links use it; turns the web on",
    ),
    Variable(
        "SESSIONBOT_WEB_SECRET",
        "",
        "key that signs web cookies (32+ characters); unset: a new one each start",
    ),
    Variable(
        "SESSIONBOT_WEB_SLACK_CLIENT_ID",
        "",
        "Sign in with Slack on the web: the app's client id (default: SLACK_CLIENT_ID)",
    ),
    Variable(
        "SESSIONBOT_WEB_SLACK_CLIENT_SECRET",
        "",
        "Sign in with Slack on the web: the app's client secret (default: SLACK_CLIENT_SECRET)",
    ),
    Variable(
        "SESSIONBOT_WEB_DISCORD_CLIENT_ID",
        "",
        "Sign in with Discord on the web: the application's OAuth2 client id",
    ),
    Variable(
        "SESSIONBOT_WEB_DISCORD_CLIENT_SECRET",
        "",
        "Sign in with Discord on the web: the application's OAuth2 client secret",
    ),
    Variable("SLACK_BOT_TOKEN", "", "bot token (xoxb-...): turns the Slack adapter on"),
    Variable("SLACK_SIGNING_SECRET", "", "verifies requests from Slack (required in HTTP mode)"),
    Variable("SLACK_APP_TOKEN", "", "app-level token (xapp-...): Socket Mode instead of HTTP"),
    Variable("SLACK_API_URL", "", "Slack Web API base URL (default: https://slack.com/api/)"),
    Variable("SLACK_CLIENT_ID", "", "multi-workspace OAuth installs (with SLACK_CLIENT_SECRET)"),
    Variable("SLACK_CLIENT_SECRET", "", "multi-workspace OAuth installs (with SLACK_CLIENT_ID)"),
    Variable("SLACK_REDIRECT_URI", "", "public URL of /slack/oauth_redirect (OAuth installs)"),
    Variable("DISCORD_TOKEN", "", "bot token: turns the Discord adapter on"),
    Variable("DISCORD_GUILD_IDS", "", "guild ids to sync /session to at start instead of globally"),
    Variable("DISCORD_API_URL", "", "Discord REST base URL with its version (default: Discord's)"),
    Variable("DISCORD_GATEWAY_URL", "", "Discord gateway websocket URL (default: Discord's)"),
    Variable("DISCORD_SHARD_IDS", "", "the shards this process runs, comma-separated"),
    Variable("DISCORD_SHARD_COUNT", "", "the total number of shards across processes"),
)


def environment_help() -> str:
    """The `--help` epilog: every variable, its meaning and its default."""
    lines = ["environment variables (or ./.env; the environment wins), with their defaults:"]
    for v in VARIABLES:
        lines += [f"  {v.name}={v.default}", f"      {v.meaning}"]
    return "\n".join(lines)


def env_example() -> str:
    """The text of `.env.example`: every variable commented out at its default."""
    lines = [
        "# sessionbot configuration: copy this file to .env and uncomment what you set.",
        "# Variables set in the environment win over this file.",
    ]
    for v in VARIABLES:
        lines += ["", f"# {v.meaning}", f"# {v.name}={v.default}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token or self.oauth)

    @property
    def oauth(self) -> bool:
        """Multi-workspace OAuth installs instead of one workspace's bot token."""
        return bool(self.client_id or self.client_secret)


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str | None = None
    guild_ids: tuple[int, ...] = ()
    api_url: str | None = None
    gateway_url: str | None = None
    shard_ids: tuple[int, ...] = ()
    shard_count: int | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The web inbox: on when SESSIONBOT_WEB=on or a public base URL is set."""

    on: bool = False
    public_url: str | None = None  # without a trailing slash
    secret: str | None = None
    slack_client_id: str | None = None  # Sign in with Slack, with the secret
    slack_client_secret: str | None = None
    discord_client_id: str | None = None  # Sign in with Discord, with the secret
    discord_client_secret: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = 3000
    admins: frozenset[str] = frozenset()
    defaults: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    sweep_interval: timedelta = timedelta(seconds=60)
    archive_dir: str = "./data/archive"
    log_level: str = "INFO"
    log_format: str = "text"
    log_file: str | None = None
    slack: SlackConfig = field(default_factory=SlackConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    max_waits_per_token: int = 200
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def base_url(self) -> str:
        """Where people reach the HTTP server: the public URL, else its own address."""
        return self.web.public_url or f"http://{self.http_host}:{self.http_port}"

    @property
    def chat_configured(self) -> bool:
        return self.slack.enabled or self.discord.enabled

    def service_config(self) -> ServiceConfig:
        return ServiceConfig(
            defaults=self.defaults,
            admins=self.admins,
            webhook_policy=self.webhook_policy,
            history=self.history,
        )


def load_environment(env_file: str | Path = ".env") -> dict[str, str]:
    """The process environment over the values of a `.env` file (the environment wins)."""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    values.update(os.environ)
    return values


class _Reader:
    """Reads typed values, naming the variable in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def duration(self, name: str, default: timedelta) -> timedelta:
        value = self.text(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ConfigError(name, str(exc)) from None

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise ConfigError(name, f"expected a whole number from {low} to {high}, got {value!r}")
        return int(value)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.text(name) or default).lower()
        if value not in choices:
            raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def ids(self, name: str) -> tuple[int, ...]:
        raw = [p for p in (self.text(name) or "").replace(",", " ").split() if p]
        if not all(p.isdigit() for p in raw):
            raise ConfigError(name, "expected numeric ids separated by commas")
        return tuple(int(p) for p in raw)


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build and validate the configuration; a bad value raises ConfigError naming it."""
    read = _Reader(env if env is not None else load_environment())
    url = read.text("SESSIONBOT_DATABASE_URL", DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            "SESSIONBOT_DATABASE_URL", "use sqlite:///path.db, sqlite:///:memory: or postgresql://…"
        )
    timezone = read.text("SESSIONBOT_TIMEZONE", "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("SESSIONBOT_TIMEZONE", f"unknown IANA timezone {timezone!r}") from None
    base = WorkspaceSettings()
    defaults = WorkspaceSettings(
        abandon_after=read.duration("SESSIONBOT_ABANDON_AFTER", base.abandon_after),
        archive_after=read.duration("SESSIONBOT_ARCHIVE_AFTER", base.archive_after),
        retention=read.duration("SESSIONBOT_RETENTION", base.retention),
        remind_pending_after=read.duration(
            "SESSIONBOT_REMIND_PENDING_AFTER", base.remind_pending_after
        ),
        remind_paused_after=read.duration(
            "SESSIONBOT_REMIND_PAUSED_AFTER", base.remind_paused_after
        ),
        abandon_warning_before=read.duration(
            "SESSIONBOT_ABANDON_WARNING_BEFORE", base.abandon_warning_before
        ),
        timezone=timezone,
    )
    admins = frozenset((read.text("SESSIONBOT_ADMINS") or "").replace(",", " ").split())
    return Config(
        database_url=url,
        http_host=read.text("SESSIONBOT_HTTP_HOST", "127.0.0.1") or "127.0.0.1",
        http_port=read.integer("SESSIONBOT_HTTP_PORT", 3000, low=0, high=65535),
        admins=admins,
        defaults=defaults,
        sweep_interval=read.duration("SESSIONBOT_SWEEP_INTERVAL", timedelta(seconds=60)),
        archive_dir=read.text("SESSIONBOT_ARCHIVE_DIR", "./data/archive") or "./data/archive",
        history=HistoryConfig(
            max_message_bytes=read.integer(
                "SESSIONBOT_MAX_MESSAGE_BYTES", 64 * 1024, low=1024, high=512 * 1024
            ),
            max_context_bytes=read.integer(
                "SESSIONBOT_MAX_CONTEXT_BYTES", 256 * 1024, low=1024, high=1024 * 1024
            ),
            page_size=read.integer("SESSIONBOT_HISTORY_PAGE_SIZE", 20, low=5, high=100),
        ),
        log_level=read.choice(
            "SESSIONBOT_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
        ).upper(),
        log_format=read.choice("SESSIONBOT_LOG_FORMAT", "text", ("text", "json")),
        log_file=read.text("SESSIONBOT_LOG_FILE"),
        slack=SlackConfig(
            bot_token=read.text("SLACK_BOT_TOKEN"),
            signing_secret=read.text("SLACK_SIGNING_SECRET"),
            app_token=read.text("SLACK_APP_TOKEN"),
            api_url=read.text("SLACK_API_URL"),
            client_id=read.text("SLACK_CLIENT_ID"),
            client_secret=read.text("SLACK_CLIENT_SECRET"),
            redirect_uri=read.text("SLACK_REDIRECT_URI"),
        ),
        discord=DiscordConfig(
            token=read.text("DISCORD_TOKEN"),
            guild_ids=read.ids("DISCORD_GUILD_IDS"),
            api_url=read.text("DISCORD_API_URL"),
            gateway_url=read.text("DISCORD_GATEWAY_URL"),
            shard_ids=read.ids("DISCORD_SHARD_IDS"),
            shard_count=_shard_count(read),
        ),
        webhook_policy=_webhook_policy(read),
        max_waits_per_token=read.integer(
            "SESSIONBOT_MAX_WAITS_PER_TOKEN", 200, low=1, high=1_000_000
        ),
        web=_web(read),
    )


def _web(read: _Reader) -> WebConfig:
    public = read.text("SESSIONBOT_PUBLIC_URL")
    if public is not None:
        parts = urlsplit(public)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ConfigError(
                "SESSIONBOT_PUBLIC_URL", "expected http(s)://host[:port][/path], no query"
            )
        public = public.rstrip("/")
    secret = read.text("SESSIONBOT_WEB_SECRET")
    if secret is not None and len(secret) < 32:
        raise ConfigError("SESSIONBOT_WEB_SECRET", "use at least 32 characters")
    on = read.choice("SESSIONBOT_WEB", "off", ("on", "off")) == "on" or public is not None
    return WebConfig(
        on=on,
        public_url=public,
        secret=secret,
        slack_client_id=read.text("SESSIONBOT_WEB_SLACK_CLIENT_ID", read.text("SLACK_CLIENT_ID")),
        slack_client_secret=read.text(
            "SESSIONBOT_WEB_SLACK_CLIENT_SECRET", read.text("SLACK_CLIENT_SECRET")
        ),
        discord_client_id=read.text("SESSIONBOT_WEB_DISCORD_CLIENT_ID"),
        discord_client_secret=read.text("SESSIONBOT_WEB_DISCORD_CLIENT_SECRET"),
    )


def _webhook_policy(read: _Reader) -> WebhookPolicy:
    """The operator's webhook allow-list: hosts, addresses and CIDRs, comma or space separated."""
    entries = (read.text("SESSIONBOT_WEBHOOK_ALLOW") or "").replace(",", " ").split()
    try:
        return WebhookPolicy.parse(entries, resolve=system_addresses)
    except ValueError as exc:
        raise ConfigError("SESSIONBOT_WEBHOOK_ALLOW", str(exc)) from None


def _shard_count(read: _Reader) -> int | None:
    if read.text("DISCORD_SHARD_COUNT") is None:
        return None
    return read.integer("DISCORD_SHARD_COUNT", 1, low=1, high=100_000)
