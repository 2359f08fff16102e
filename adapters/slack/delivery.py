"""Sends outbox notifications to Slack (core's `Delivery`), translating slack_sdk errors.

HTTP 429 is retried once by slack_sdk's rate-limit handler on the client (honouring
`Retry-After`); anything still failing becomes a `DeliveryError` and the outbox backs off.
`not_in_channel` also tells the person who last ran a command in that channel to invite the bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import render
from adapters.slack.home import home_view
from adapters.slack.replies import ResponseUrls
from core.home import HomeView
from core.outbox import DeliveryError
from core.views import View

_log = logging.getLogger(__name__)

PLATFORM = "slack"
# Errors that no retry can fix: the row goes dead at once and shows in stats and metrics.
_PERMANENT = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_blocks",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "invalid_arguments",
        "user_not_found",
        "cannot_dm_bot",
    }
)
NOT_IN_CHANNEL_RETRY = 60.0  # seconds: time for someone to invite the bot before the next try
HINT_TTL = 25 * 60.0  # a response_url lives 30 minutes


def invite_hint(channel_id: str, bot_user_id: str | None) -> str:
    who = f"<@{bot_user_id}>" if bot_user_id else "the sessionbot app"
    return (
        f":warning: I'm not a member of <#{channel_id}>, so I can't post the session card and "
        f"notifications there. Invite me with `/invite {who}` and they will follow."
    )


@dataclass(slots=True)
class _Answerable:
    response_url: str
    at: float


class InviteHints:
    """Remembers the last command's response_url per channel, to explain `not_in_channel`."""

    def __init__(
        self, replies: ResponseUrls, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.replies = replies
        self._latest: dict[tuple[str, str], _Answerable] = {}
        self._monotonic = monotonic
        self.bot_user_id: str | None = None

    def remember(self, workspace: str, channel_id: str, response_url: str | None) -> None:
        if response_url:
            self._latest[(workspace, channel_id)] = _Answerable(response_url, self._monotonic())

    async def not_in_channel(self, workspace: str, channel_id: str) -> None:
        """Tell the last commander (once per command) that the bot must be invited."""
        latest = self._latest.pop((workspace, channel_id), None)
        if latest is None or self._monotonic() - latest.at > HINT_TTL:
            return
        await self.replies.notice(latest.response_url, invite_hint(channel_id, self.bot_user_id))


TokenLookup = Callable[[str], Awaitable[str | None]]


class SlackDelivery:
    """Posts, updates and DMs neutral views through the Web API."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        hints: InviteHints | None = None,
        token_for: TokenLookup | None = None,
    ) -> None:
        self.client = client
        self.hints = hints or InviteHints(ResponseUrls())
        self._token_for = token_for

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        message = render(view)
        response = await self._call(
            workspace,
            channel_id,
            self.client.chat_postMessage,
            channel=channel_id,
            thread_ts=thread_ref,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        message = render(view)
        await self._call(
            workspace,
            channel_id,
            self.client.chat_update,
            channel=channel_id,
            ts=message_ref,
            text=message.text,
            blocks=message.blocks,
        )

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        opened = await self._call(workspace, user_id, self.client.conversations_open, users=user_id)
        return await self.post(workspace, str(opened["channel"]["id"]), None, view)

    async def publish_home(self, workspace: str, user_id: str, home: HomeView) -> None:
        """views.publish of `user_id`'s App Home (Tier 4; a 429's Retry-After steers the retry)."""
        view = home_view(home)
        await self._call(workspace, user_id, self.client.views_publish, user_id=user_id, view=view)

    async def _call(
        self, workspace: str, where: str, method: Callable[..., Awaitable[Any]], **kwargs: Any
    ) -> Any:
        """One Web API call; every failure leaves as a `DeliveryError` the outbox understands."""
        kwargs.update(await self._auth(workspace))
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            code, error = _api_error(exc, where)
            if code == "not_in_channel":
                await self.hints.not_in_channel(workspace, where)
            raise error from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}") from exc

    async def _auth(self, workspace: str) -> dict[str, Any]:
        if self._token_for is None:
            return {}
        token = await self._token_for(workspace)
        if token is None:
            raise DeliveryError(f"no Slack installation for {workspace}", permanent=True)
        return {"token": token}


def _api_error(exc: SlackApiError, where: str) -> tuple[str, DeliveryError]:
    response = exc.response
    code = str(response.get("error") or f"http_{response.status_code}")
    if response.status_code == 429:
        retry_after = _retry_after(response.headers)
        return code, DeliveryError(f"{code} (rate limited)", retry_after=retry_after)
    if code == "not_in_channel":
        message = f"not_in_channel: invite the bot to {where}"
        return code, DeliveryError(message, retry_after=NOT_IN_CHANNEL_RETRY)
    return code, DeliveryError(f"{code} ({where})", permanent=code in _PERMANENT)


def _retry_after(headers: Any) -> float | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None
