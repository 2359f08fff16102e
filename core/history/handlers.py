"""`/session` commands of the history feature: note, history, search, export, context, fork."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from core.grammar import Command
from core.handlers import Handler, said
from core.history import cards, context, export
from core.history.fork import fork
from core.history.search import search
from core.models import Actor, ChatRef
from core.views import Reply

if TYPE_CHECKING:
    from core.wiring import Services


async def _note(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    history = services.history
    message = await history.append(actor, cmd.ref, cmd.args["text"], channel_id=chat.channel_id)
    session = await services.sessions.find(actor, message.session_id)
    return said(cards.note_added(session, message))


async def _history(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    history = services.history
    page = await history.numbered_page(
        actor, cmd.ref, cmd.args.get("page", 1), channel_id=chat.channel_id
    )
    return Reply(cards.history_page(page))


async def _search(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    history = services.history
    results = await search(history, actor, cmd.args["query"], ref=cmd.args.get("in"))
    return Reply(cards.search_results(results))


async def _export(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    """A chat-sized export (the CLI writes whole files); reading stops at the size cap."""
    history = services.history
    fmt = cmd.args.get("format", "md")
    session = await history.find(actor, cmd.ref, chat.channel_id)
    make = export.json_chunks if fmt == "json" else export.markdown_chunks
    chunks = make(history, actor, session.id)
    parts: list[str] = []
    size, truncated = 0, False
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > cards.EXPORT_CHARS:
                truncated = True
                break
    text = "".join(parts)
    if truncated:
        text = text[: cards.EXPORT_CHARS] + "…"
    return Reply(cards.export_view(session, text, fmt, truncated=truncated))


async def _context(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    history = services.history
    pairs = cmd.args.get("pairs")
    if not pairs:
        shown = await context.read(history, actor, cmd.ref, channel_id=chat.channel_id)
        return Reply(cards.context_view(shown))
    changes = context.parse_pairs(pairs)
    view = await context.update(history, actor, cmd.ref, changes, channel_id=chat.channel_id)
    return said(cards.context_updated(view, changes, actor.user_id))


async def _fork(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    history = services.history
    result = await fork(history, actor, cmd.ref, at=cmd.args.get("at"), channel_id=chat.channel_id)
    return said(cards.forked(result, actor.user_id))


HANDLERS: dict[str, Handler] = {
    "note": _note,
    "history": _history,
    "search": _search,
    "export": _export,
    "context": _context,
    "fork": _fork,
}
