"""The Slack adapter (§7): a Bolt `AsyncApp` served over HTTP or Socket Mode, plus delivery."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.delivery import InviteHints, SlackDelivery
from adapters.slack.directory import AdminDirectory
from adapters.slack.handlers import SlackHandlers
from adapters.slack.replies import ResponseUrls
from core.outbox import Delivery
from core.runner import CommandRunner

_log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# The bot scopes this code needs, with what needs them; manifest.yml declares exactly these.
BOT_SCOPES = {
    "commands": "the /session slash command",
    "chat:write": "chat.postMessage and chat.update (cards, plans, notifications)",
    "im:write": "conversations.open (reminders by DM)",
    "users:read": "users.info (workspace admins and owners)",
}


class SlackAdapter:
    """One Slack app: its listeners, its transport and its outbox delivery."""

    name = "slack"

    def __init__(
        self,
        runner: CommandRunner,
        client: AsyncWebClient,
        *,
        signing_secret: str | None = None,
        app_token: str | None = None,
    ) -> None:
        self.replies = ResponseUrls()
        self.hints = InviteHints(self.replies)
        self.client = client
        self.delivery: Delivery = SlackDelivery(client, hints=self.hints)
        self.handlers = SlackHandlers(
            runner, admins=AdminDirectory(), hints=self.hints, replies=self.replies
        )
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret or "",
            # Socket Mode payloads arrive over an authenticated socket; Bolt skips the HMAC there.
            request_verification_enabled=app_token is None,
            # The listeners only ack and spawn, so answering after them is answering at once.
            process_before_response=True,
            logger=logging.getLogger("slack_bolt"),
        )
        self.handlers.register(self.app)
        self.socket = AsyncSocketModeHandler(self.app, app_token) if app_token else None
        self._problem: str | None = "not started"

    @property
    def mode(self) -> str:
        return "socket" if self.socket is not None else "http"

    def mount(self, web_app: web.Application, path: str = EVENTS_PATH) -> None:
        """Serve Bolt at `POST path` on the bot's aiohttp application (HTTP mode)."""
        web_app.router.add_post(path, self.handle_http)

    async def handle_http(self, request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def start(self) -> None:
        """Check the token (auth.test) and, in Socket Mode, connect; problems show in /readyz."""
        try:
            identity = await self.client.auth_test()
        except (SlackApiError, SlackClientError, OSError) as exc:
            self._problem = f"auth.test failed: {_reason(exc)}"
            _log.error("Slack %s", self._problem)
        else:
            self.hints.bot_user_id = identity.get("user_id")
            self._problem = _missing_scopes(identity.headers)
            _log.info("Slack app for team %s in %s mode", identity.get("team_id"), self.mode)
        if self.socket is not None:
            await self.socket.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        """Stop taking payloads, then let in-flight listener work finish (bounded)."""
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        if not await self.handlers.idle(timeout=8.0):
            _log.warning("Slack listener work still running at shutdown")
        await self.replies.close()
        self._problem = "stopped"

    async def ready_problem(self) -> str | None:
        if self._problem is not None:
            return self._problem
        if self.socket is not None and not await self.socket.client.is_connected():
            return "socket mode not connected"
        return None


def _missing_scopes(headers: dict[str, Any]) -> str | None:
    """Compare the token's scopes (auth.test's `x-oauth-scopes`) with `BOT_SCOPES`."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if raw is None:
        return None
    text = ",".join(raw) if isinstance(raw, list) else str(raw)
    missing = sorted(set(BOT_SCOPES) - {s.strip() for s in text.split(",")})
    if not missing:
        return None
    _log.error("the Slack token lacks scopes %s (see manifest.yml)", ", ".join(missing))
    return f"missing scopes: {', '.join(missing)}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return exc.__class__.__name__
