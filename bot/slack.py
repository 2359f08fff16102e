"""Builds the Slack adapter from configuration: client, transport, OAuth, and the HTTP routes."""

from __future__ import annotations

import logging

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack.adapter import SlackOAuth
from adapters.slack.installations import SlackInstallationStore, SlackOAuthStateStore
from bot.app import Core
from bot.config import SlackConfig
from bot.http import HttpServer
from core.errors import ConfigError

_log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 1  # one honoured Retry-After in the client; the outbox backs off after that


def slack_client(slack: SlackConfig) -> AsyncWebClient:
    """The Web API client: our base URL (a fake in tests) and 429 retries honouring Retry-After.

    With OAuth it has no token of its own: Bolt gives each request its team's token, and
    delivery passes one per call.
    """
    return AsyncWebClient(
        token=None if slack.oauth else slack.bot_token,
        base_url=slack.api_url or SLACK_API_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


def slack_oauth(slack: SlackConfig, core: Core) -> SlackOAuth | None:
    """Multi-workspace OAuth when SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set, else None."""
    if not slack.oauth:
        return None
    if not slack.client_id:
        raise ConfigError("SLACK_CLIENT_ID", "required with SLACK_CLIENT_SECRET (OAuth installs)")
    if not slack.client_secret:
        raise ConfigError("SLACK_CLIENT_SECRET", "required with SLACK_CLIENT_ID (OAuth installs)")
    if slack.bot_token:
        _log.warning("SLACK_BOT_TOKEN is ignored: OAuth installs give each workspace its token")
    return SlackOAuth(
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        installations=SlackInstallationStore(core.store.installations),
        states=SlackOAuthStateStore(core.store.installations, core.services.clock),
        redirect_uri=slack.redirect_uri,
    )


def slack_adapter(slack: SlackConfig, core: Core, http: HttpServer) -> SlackAdapter:
    """Socket Mode when SLACK_APP_TOKEN is set, else Bolt at POST /slack/events on `http`."""
    oauth = slack_oauth(slack, core)
    if oauth is None and not slack.bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN",
            "required (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for multi-workspace OAuth)",
        )
    if not slack.app_token and not slack.signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET", "required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    adapter = SlackAdapter(
        core.runner,
        slack_client(slack),
        signing_secret=slack.signing_secret,
        app_token=slack.app_token,
        oauth=oauth,
    )
    if adapter.socket is None:
        adapter.mount(http.app, EVENTS_PATH)
    if oauth is not None:
        adapter.mount_oauth(http.app)
    _log.info("Slack adapter configured (%s mode%s)", adapter.mode, ", OAuth" if oauth else "")
    return adapter
