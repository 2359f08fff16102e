"""The pages: the inbox, the sessions list (filters, search, cursor paging) and a session."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from bot.web.context import ME, WEB, see_other
from bot.web.live import fingerprint
from core.errors import UsageError
from core.history.export import json_chunks, markdown_chunks
from core.history.search import search
from core.services.sessions import LIST_FILTERS
from core.services.web_pages import INBOX_SHOWN
from core.store.web import Cursor

PAGE = 25


async def home(request: web.Request) -> web.StreamResponse:
    return see_other("/web/inbox")


async def inbox(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    items = await ctx.reads.inbox(me.actor())
    done = request.query.get("done") == "1"
    shown = fingerprint(items)
    return ctx.render(
        "inbox.html",
        session=me,
        items=items,
        full=len(items) >= INBOX_SHOWN,
        done=done,
        live=f"/web/live/inbox?shown={shown}",
    )


def _cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    when, _, ref = text.rpartition("~")
    try:
        return datetime.fromisoformat(when), int(ref)
    except ValueError:
        raise UsageError("That page link is not valid; start from the first page.") from None


async def sessions(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    q = request.query
    filters = {k: q.get(k, "").strip()[:100] for k in ("status", "owner", "mode", "channel")}
    filters["status"] = filters["status"] or "all"
    query = q.get("q", "").strip()
    hits = None
    page = None
    offset = 0
    if query:
        offset = int(q["offset"]) if q.get("offset", "").isdigit() else 0
        hits = await search(ctx.services.history, me.actor(), query, limit=PAGE + 1, offset=offset)
    else:
        page = await ctx.reads.listing(
            me.actor(),
            status=filters["status"],
            owner=filters["owner"] or None,
            mode=filters["mode"] or None,
            channel=filters["channel"] or None,
            after=_cursor(q.get("after")),
            limit=PAGE,
        )
    nxt = None
    if page is not None and page.after is not None:
        nxt = f"{page.after[0].isoformat()}~{page.after[1]}"
    return ctx.render(
        "sessions.html",
        session=me,
        filters=filters,
        statuses=list(LIST_FILTERS),
        query=query,
        page=page,
        next_cursor=nxt,
        hits=hits.hits[:PAGE] if hits else None,
        next_offset=offset + PAGE if hits and len(hits.hits) > PAGE else None,
    )


async def session(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    view = await ctx.reads.session(me.actor(), request.match_info["id"])
    return ctx.render(
        "session.html", session=me, view=view, live=f"/web/live/sessions/{view.session.id}"
    )


EXPORTS = {"json": "application/json", "md": "text/markdown"}


async def export(request: web.Request) -> web.StreamResponse:
    """A session's export (the same JSON or Markdown as `sessionbot export`), as a download."""
    ctx, me = request.app[WEB], request[ME]
    fmt = request.match_info["fmt"]
    if fmt not in EXPORTS:
        raise web.HTTPNotFound(reason="Export as json or md.")
    history = ctx.services.history
    found = await history.find(me.actor(), request.match_info["id"])
    make = json_chunks if fmt == "json" else markdown_chunks
    text = "".join([chunk async for chunk in make(history, me.actor(), found.id)])
    return web.Response(
        text=text,
        content_type=EXPORTS[fmt],
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="session-{found.ref}.{fmt}"'},
    )


async def stats(request: web.Request) -> web.StreamResponse:
    """The workspace's numbers of the last 30 days as bar charts (SVG drawn here), each with
    its numbers beside it: sessions by status and outcome, approval latency, modes, job lag."""
    ctx, me = request.app[WEB], request[ME]
    actor = me.actor()
    figures = await ctx.stats.figures(actor)  # at most FRESH old (core/services/stats_page.py)
    found, days = figures.stats, figures.days
    outcomes = {
        k: v for k, v in found.by_status.items() if k not in ("active", "paused", "pending")
    }
    open_ = {k: v for k, v in found.by_status.items() if k in ("active", "paused", "pending")}
    return ctx.render(
        "stats.html",
        session=me,
        stats=found,
        days=days,
        as_of=figures.at.astimezone(UTC),
        fresh=int(ctx.stats.fresh.total_seconds()),
        outcomes=sorted({o for d in days for o in d.ended}),
        charts=[
            ("Open sessions by status", sorted(open_.items())),
            ("Ended sessions by outcome", sorted(outcomes.items())),
            ("Plan approval latency", found.approval_histogram),
            ("Sessions by mode", sorted(found.by_mode.items())),
        ],
    )
