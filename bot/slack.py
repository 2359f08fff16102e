"""Builds the Slack adapter from configuration: client, transport, and the HTTP route."""

from __future__ import annotations

import logging

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import EVENTS_PATH, SlackAdapter
from bot.app import Core
from bot.config import SlackConfig
from bot.http import HttpServer
from core.errors import ConfigError

_log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 1  # one honoured Retry-After in the client; the outbox backs off after that


def slack_client(slack: SlackConfig) -> AsyncWebClient:
    """The Web API client: our base URL (a fake in tests) and 429 retries honouring Retry-After."""
    return AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url or SLACK_API_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


def slack_adapter(slack: SlackConfig, core: Core, http: HttpServer) -> SlackAdapter:
    """Socket Mode when SLACK_APP_TOKEN is set, else Bolt at POST /slack/events on `http`."""
    if not slack.bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN", "required (multi-workspace OAuth installs are not supported yet)"
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
    )
    if adapter.socket is None:
        adapter.mount(http.app, EVENTS_PATH)
    _log.info("Slack adapter configured (%s mode)", adapter.mode)
    return adapter
