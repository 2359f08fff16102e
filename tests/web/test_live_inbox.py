"""The inbox's live stream: woken only by changes in its own workspace, and ended at the first
wake-up after its browser signed out."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.web import web_app
from bot.web.context import WEB, WebContext
from bot.web.live import inbox_key
from core.models import ChatRef
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, WS, actor
from tests.web.conftest import Browser


async def _settled(ctx: WebContext) -> None:
    """Wait for the round that sorts the commits' keys by workspace, if one was started."""
    if ctx.waking is not None:
        await ctx.waking


async def test_a_change_wakes_only_the_inboxes_of_its_workspace(services: Services) -> None:
    ctx = web_app(services, base_url="http://127.0.0.1:3000")[WEB]
    owner, stranger = actor("owner"), actor("sam", OTHER_WS)
    with (
        ctx.changed.watch(inbox_key(WS)) as mine,
        ctx.changed.watch(inbox_key(OTHER_WS)) as theirs,
    ):
        await services.sessions.start(stranger, ChatRef("console", OTHER_WS, "general"), "x")
        await _settled(ctx)
        assert theirs.is_set() and not mine.is_set(), "another workspace's commit"
        theirs.clear()
        await services.sessions.start(owner, CHAT, "here")
        await _settled(ctx)
        assert mine.is_set() and not theirs.is_set()
    assert not ctx.woken


async def test_no_keys_are_kept_while_no_inbox_is_open(services: Services) -> None:
    ctx = web_app(services, base_url="http://127.0.0.1:3000")[WEB]
    await services.sessions.start(actor("owner"), CHAT, "nobody watches")
    assert not ctx.woken and ctx.waking is None


async def _read_to_end(stream: aiohttp.StreamReader) -> list[str]:
    lines = []
    async with asyncio.timeout(20):  # a bound for a failing test, not a rule
        while line := await stream.readline():
            lines.append(line.decode())
    return lines


async def test_an_open_inbox_stream_ends_at_its_next_wake_up_after_sign_out(
    ana: Browser, services: Services
) -> None:
    page = await ana.get("/web/inbox")
    live = page.text.split('data-live="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    async with ana.http.get(ana.base + live) as stream:
        assert stream.status == 200
        out = await ana.post("/web/logout", {"csrf": page.csrf})
        assert out.status == 303
        await services.sessions.start(actor("owner"), CHAT, "a change after sign-out")
        lines = await _read_to_end(stream.content)
    assert not any(line.startswith("event: refresh") for line in lines), lines
