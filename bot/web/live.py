"""Live pages: Server-Sent Events that tell an open page to refresh what changed.

A session's page follows its events through the same core wait as the API's event stream
(`Progress.next_events`: woken by the commit that adds an event, here or on another replica).
The inbox follows the commits that add an event or change a request (the store's wake-up
keys) in its own workspace: while inboxes are open, one task takes the keys of every commit
since its last round, finds their workspaces in one query and wakes only those workspaces'
inboxes (so the cost does not grow with other workspaces' traffic, and a burst of commits is
one round). A woken inbox reads the person's inbox again and says `refresh` only when what it
holds differs from what the page shows. Nothing is queued per browser; at every wake-up (a
change or the heartbeat) a stream checks its browser session is still live (signed out or
timed out: it ends), and it ends after `lifetime` seconds anyway (the browser reconnects, and
its cookie is checked again). Streams are capped per browser session and per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterator

from aiohttp import web

from bot.web.context import INBOX, ME, WEB, WebContext
from core.records.web import WebSession
from core.services.web_pages import InboxItem
from core.store import wakes

_log = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\n\n"
PER_BROWSER = 6
TOTAL = 500
BATCH = 50


def fingerprint(items: list[InboxItem]) -> str:
    """What an inbox shows, in a few characters: the items and their versions."""
    return hashlib.sha256(" ".join(i.key for i in items).encode()).hexdigest()[:16]


def inbox_key(workspace: str) -> str:
    """The Waiters key the open inboxes of `workspace` watch."""
    return f"{INBOX}:{workspace}"


def on_wake(ctx: WebContext, keys: frozenset[str]) -> None:
    """A commit's wake-up keys, kept for the round that wakes the inboxes they concern (none
    kept while no inbox is open)."""
    if not len(ctx.changed) or not any(
        k == wakes.ANY or k.startswith(("events:", "request:")) for k in keys
    ):
        return
    ctx.woken.update(keys)
    if ctx.waking is None or ctx.waking.done():
        ctx.waking = asyncio.get_running_loop().create_task(_wake_inboxes(ctx))


async def _wake_inboxes(ctx: WebContext) -> None:
    """Rounds until no key is left: the workspaces of the keys taken, their inboxes woken."""
    while ctx.woken:
        keys, ctx.woken = ctx.woken, set()
        if wakes.ANY in keys:
            ctx.changed.wake_all()
            continue
        try:
            found = await ctx.services.store.web.workspaces_of(
                wakes.ids(keys, "events"), wakes.ids(keys, "request")
            )
        except Exception:
            _log.warning("could not tell which inboxes a change concerns; waking them all")
            ctx.changed.wake_all()
            continue
        for workspace in found:
            ctx.changed.wake(inbox_key(workspace))


@contextlib.contextmanager
def _opened(ctx: WebContext, me: WebSession) -> Iterator[None]:
    if ctx.closing:
        raise web.HTTPServiceUnavailable(reason="The server is shutting down.")
    if sum(ctx.streams.values()) >= TOTAL or ctx.streams[me.id_hash] >= PER_BROWSER:
        raise web.HTTPTooManyRequests(reason="Too many live pages are open; close one.")
    ctx.streams[me.id_hash] += 1
    try:
        yield
    finally:
        ctx.streams[me.id_hash] -= 1
        if not ctx.streams[me.id_hash]:
            del ctx.streams[me.id_hash]


async def _start(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    await response.prepare(request)
    return response


async def _send(request: web.Request, response: web.StreamResponse, chunk: bytes) -> bool:
    try:
        await response.write(chunk)
        await request.writer.drain()
    except ConnectionError:
        return False  # the browser went away
    return True


async def inbox(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    actor = me.actor()
    shown = request.query.get("shown", "")
    with _opened(ctx, me):
        response = await _start(request)
        clock = asyncio.get_running_loop().time
        ends = clock() + ctx.stream_lifetime
        while not ctx.closing and clock() < ends:
            with ctx.changed.watch(inbox_key(me.workspace)) as changed:  # before reading
                if not await ctx.signin.still_live(me):
                    break  # signed out or timed out
                now = fingerprint(await ctx.reads.inbox(actor))
                if now != shown:
                    shown = now
                    chunk = f"event: refresh\ndata: {now}\n\n".encode()
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(min(ctx.heartbeat, max(0, ends - clock()))):
                            await changed.wait()
                    if changed.is_set():
                        continue
                    chunk = HEARTBEAT
            if not await _send(request, response, chunk):
                break
    return response


async def session(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    progress = ctx.services.progress
    followed = await progress.follow(me.actor(), request.match_info["id"])  # 404 first
    header = request.headers.get("Last-Event-ID", request.query.get("after", "0"))
    sent = int(header) if header.isascii() and header.isdigit() and len(header) < 18 else 0
    with _opened(ctx, me):
        response = await _start(request)
        clock = asyncio.get_running_loop().time
        ends = clock() + ctx.stream_lifetime
        while not ctx.closing and clock() < ends:
            up_to = min(ctx.heartbeat, max(0, ends - clock()))
            found = await progress.next_events(followed, after_seq=sent, up_to=up_to, limit=BATCH)
            if ctx.closing or not await ctx.signin.still_live(me):
                break
            if found:
                sent = found[-1].seq
                chunk = f"id: {sent}\nevent: refresh\ndata: {sent}\n\n".encode()
            else:
                chunk = HEARTBEAT
            if not await _send(request, response, chunk):
                break
    return response
