"""Outbox delivery to Discord: channel posts, a thread per session, in-place edits and DMs.

Threads: the session card is posted in the session's channel and a public thread is started
from it; in Discord that thread's id equals the card message's id, and it is what `post`
returns, so the outbox records it as the session's `thread_ref` and later notifications go
into the thread. Where the channel allows no threads (a thread itself, a voice chat, missing
Create Public Threads), `post` returns `reply:<card message id>` instead and notifications
are posted in the channel as replies to the card.

Failures: discord.py already waits out 429s (up to `max_ratelimit_timeout`) and retries 5xx;
what is left becomes a DeliveryError for the outbox, whose backoff does the rest. 403 and
404 are permanent (retrying cannot help) with a reason an operator can act on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import discord

from adapters.discord.buttons import ButtonKit
from adapters.discord.embeds import clip, content_of, render, render_one
from core.outbox import DeliveryError
from core.views import View, unescape

_log = logging.getLogger(__name__)

REPLY_PREFIX = "reply:"
IN_THREAD = "/"  # `<thread id>/<message id>`: a message posted in a thread, which edits must name
THREAD_NAME_MAX = 100
THREAD_ARCHIVE_MINUTES: Final = 1440
_FORBIDDEN = {
    50001: "the bot cannot see this channel (Missing Access): add it to the channel",
    50013: "the bot lacks a permission here (Send Messages, Embed Links, Send Messages "
    "in Threads, Create Public Threads)",
    50007: "this member does not accept direct messages from the server",
}


@contextlib.asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Turn discord.py and transport errors into DeliveryErrors the outbox understands."""
    try:
        yield
    except discord.RateLimited as exc:
        raise DeliveryError(f"{what}: rate limited", retry_after=exc.retry_after) from exc
    except discord.Forbidden as exc:
        reason = _FORBIDDEN.get(exc.code, f"forbidden (code {exc.code})")
        raise DeliveryError(f"{what}: {reason}", permanent=True) from exc
    except discord.NotFound as exc:
        raise DeliveryError(f"{what}: not found (code {exc.code})", permanent=True) from exc
    except discord.HTTPException as exc:
        retry_after = _retry_after(exc) if exc.status == 429 else None
        permanent = exc.status in (400, 413)
        message = f"{what}: HTTP {exc.status} (code {exc.code})"
        raise DeliveryError(message, retry_after=retry_after, permanent=permanent) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"{what}: connection failed ({exc.__class__.__name__})") from exc


def _retry_after(exc: discord.HTTPException) -> float | None:
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(header) if header else None
    except ValueError:
        return None


def guild_id_of(workspace: str) -> int:
    platform, _, guild = workspace.partition(":")
    if platform != "discord" or not guild.isdigit():
        raise DeliveryError(f"not a Discord workspace: {workspace}", permanent=True)
    return int(guild)


def snowflake(value: str, what: str) -> int:
    if not value.isdigit():
        raise DeliveryError(f"{what} {value[:40]!r} is not a Discord id", permanent=True)
    return int(value)


def thread_name(view: View) -> str:
    title = unescape(view.title).removeprefix("Session ").strip() or "session"
    return clip(" ".join(title.split()), THREAD_NAME_MAX)


class DiscordDelivery:
    """Implements core.outbox.Delivery with a logged-in discord.py client."""

    platform = "discord"

    def __init__(self, client: discord.Client, buttons: ButtonKit) -> None:
        self.client = client
        self.buttons = buttons

    def _check_ready(self) -> None:
        if self.client.user is None or self.client.is_closed():
            raise DeliveryError("the Discord client is not logged in yet", retry_after=5)

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        self._check_ready()
        guild_id = guild_id_of(workspace)
        channel = snowflake(channel_id, "channel")
        target = self.client.get_partial_messageable(channel, guild_id=guild_id)
        reference: discord.MessageReference | None = None
        if thread_ref and thread_ref.startswith(REPLY_PREFIX):
            card = snowflake(thread_ref.removeprefix(REPLY_PREFIX), "card message")
            reference = discord.MessageReference(
                message_id=card, channel_id=channel, fail_if_not_exists=False
            )
        elif thread_ref:
            target = self.client.get_partial_messageable(
                snowflake(thread_ref, "thread"), guild_id=guild_id
            )
        message = await self._send(target, view, reference, f"post to channel {channel_id}")
        if view.kind == "session_card" and thread_ref is None:
            return await self._open_thread(channel, message.id, view)
        if reference is None and thread_ref:  # a thread is a channel: an edit must name it
            return f"{thread_ref}{IN_THREAD}{message.id}"
        return str(message.id)

    async def _send(
        self,
        target: discord.PartialMessageable | discord.DMChannel,
        view: View,
        reference: discord.MessageReference | None,
        what: str,
    ) -> discord.Message:
        pages = render(view)
        buttons = self.buttons.view_for(view.buttons)
        first_page: dict[str, Any] = {"embeds": pages[0], "content": content_of(view)}
        if buttons is not None:
            first_page["view"] = buttons
        if reference is not None:
            first_page["reference"] = reference
        async with translated(what):
            first = await target.send(**first_page)
        for page in pages[1:]:  # the first page is delivered: a lost later page is not retried
            try:
                await target.send(embeds=page)
            except discord.HTTPException as exc:
                _log.warning("%s: a later page failed (HTTP %s)", what, exc.status)
        return first

    async def _open_thread(self, channel_id: int, message_id: int, view: View) -> str:
        """Start the session's thread on its card; its id is the card's (Discord's rule)."""
        known = self.client.get_channel(channel_id)
        if known is not None and not isinstance(known, discord.TextChannel):
            return f"{REPLY_PREFIX}{message_id}"
        try:
            data = await self.client.http.start_thread_with_message(
                channel_id,
                message_id,
                name=thread_name(view),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            _log.info("no thread in channel %s (HTTP %s code %s)", channel_id, exc.status, exc.code)
            return f"{REPLY_PREFIX}{message_id}"
        return str(data["id"])

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        self._check_ready()
        if IN_THREAD in message_ref:  # posted in the session's thread
            channel_id, _, message_ref = message_ref.partition(IN_THREAD)
        channel = self.client.get_partial_messageable(
            snowflake(channel_id, "channel"), guild_id=guild_id_of(workspace)
        )
        message = channel.get_partial_message(snowflake(message_ref, "message"))
        async with translated(f"edit message {message_ref}"):
            await message.edit(
                content=content_of(view),
                embeds=render_one(view),
                view=self.buttons.view_for(view.buttons),
                allowed_mentions=discord.AllowedMentions.none(),  # edits do not inherit it
            )

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        self._check_ready()
        user = discord.Object(id=snowflake(user_id, "user"))
        async with translated(f"open a DM with {user_id}"):
            channel = await self.client.create_dm(user)
        message = await self._send(channel, view, None, f"DM {user_id}")
        return str(message.id)
