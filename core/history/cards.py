"""Neutral views of the history feature; all its user-facing wording lives here."""

from __future__ import annotations

import json
from datetime import datetime

from core import cards
from core.history.context import ContextView
from core.history.fork import ForkResult
from core.history.messages import NumberedPage
from core.history.search import SearchResults
from core.models import Member, Session
from core.records.history import MATCH_END, MATCH_START, ContextBundle, Message
from core.views import Accent, Field, View, escape, mention
from core.wording import plural

LINE = 300
CONTEXT_CHARS = 3000
EXPORT_CHARS = 12_000


def _clip(text: str, limit: int = LINE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def message_line(m: Message) -> str:
    if m.deleted:
        return f"#{m.seq} · deleted by {mention(m.deleted_by)}"
    edited = " (edited)" if m.edited_at else ""
    reply = " ↳" if m.parent_id else ""
    return (
        f"#{m.seq}{reply} · {_time(m.created_at)} · {mention(m.author_id)} ({m.role.value})"
        f"{edited}: {escape(_clip(m.content))}"
    )


def note_added(session: Session, message: Message) -> View:
    text = f"note #{message.seq} added by {mention(message.author_id)}"
    return cards.confirmation(session, text)


def history_page(page: NumberedPage) -> View:
    session = page.session
    if not page.messages:
        return View(
            kind="history",
            title=f"History of {cards.label(session)}: no messages yet",
            blocks=["Add one with `/session note <text…>`."],
            session_ref=session.ref,
        )
    footer = f"Page {page.page} of {page.pages} · newest first"
    if page.page < page.pages:
        footer += f" · older: page:{page.page + 1}"
    return View(
        kind="history",
        title=f"History of {cards.label(session)}",
        blocks=[message_line(m) for m in page.messages],
        footer=footer,
        session_ref=session.ref,
        meta={"session_id": session.id},
    )


def _snippet(text: str) -> str:
    return escape(" ".join(text.split())).replace(MATCH_START, "*").replace(MATCH_END, "*")


def search_results(results: SearchResults) -> View:
    scope = f" in {cards.label(results.session)}" if results.session else ""
    query = escape(_clip(results.query, 80))
    if not results.hits:
        hint = "Try fewer words, a prefix like `roll*`, or OR: `deploy OR release`."
        return View(kind="search", title=f"No messages match “{query}”{scope}", blocks=[hint])
    blocks = [
        f"#{h.session_ref} {escape(h.session_title)} · message {h.seq} · {mention(h.author_id)}"
        f" · {_time(h.created_at)}\n{_snippet(h.snippet)}"
        for h in results.hits
    ]
    return View(
        kind="search",
        title=f"{plural(len(results.hits), 'best match', 'best matches')} for “{query}”{scope}",
        blocks=blocks,
        footer="Ranked by relevance; narrow with in:<ref> or more words.",
    )


def _json(value: object, limit: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context_view(view: ContextView) -> View:
    session = view.session
    fields = [
        Field(f"{escape(k)} expires", _time(v) + " UTC") for k, v in sorted(view.expires.items())
    ]
    body = _json(view.context, CONTEXT_CHARS) if view.context else "(empty)"
    return View(
        kind="context",
        title=f"Context of {cards.label(session)}",
        fields=fields,
        blocks=[escape(body)],
        footer="Set with `key=value` (JSON values parse), delete with `key=null`.",
        session_ref=session.ref,
        meta={"session_id": session.id},
    )


def context_updated(view: ContextView, changes: dict[str, object], actor_id: str) -> View:
    set_keys = ", ".join(escape(k) for k, v in changes.items() if v is not None)
    gone = ", ".join(escape(k) for k, v in changes.items() if v is None)
    parts = [f"set {set_keys}"] if set_keys else []
    parts += [f"deleted {gone}"] if gone else []
    text = f"context {'; '.join(parts)} by {mention(actor_id)}"
    return cards.confirmation(view.session, text)


def export_view(session: Session, text: str, fmt: str, *, truncated: bool) -> View:
    footer = None
    if truncated:
        footer = (
            f"Shortened for chat. The whole export: `sessionbot export {session.id} "
            f"--workspace {session.workspace} --format {fmt}`"
        )
    return View(
        kind="export",
        title=f"Export of {cards.label(session)} ({fmt})",
        blocks=[escape(text.rstrip())],
        footer=escape(footer) if footer else None,
        session_ref=session.ref,
        meta={"session_id": session.id, "format": fmt, "filename": f"session-{session.ref}.{fmt}"},
    )


def forked(result: ForkResult, actor_id: str) -> View:
    text = (
        f"forked from {cards.label(result.parent)} at message {result.at_seq} "
        f"by {mention(actor_id)}"
    )
    return cards.confirmation(result.session, text, accent=Accent.SUCCESS)


def resumed(bundle: ContextBundle, members: list[Member], actor_id: str, *, now: datetime) -> View:
    """The session card plus what someone picking it up needs: context, events, recent talk."""
    session = bundle.session
    view = cards.session_card(session, members, bundle.plan, now=now)
    view.title = f"Session {cards.label(session)} resumed by {mention(actor_id)}"
    if bundle.context:
        view.blocks.append("*Context*\n" + escape(_json(bundle.context, CONTEXT_CHARS)))
    if bundle.events:
        lines = [
            f"{e.seq}. {_time(e.created_at)} {e.type.value.replace('_', ' ')} by "
            f"{mention(e.actor_id)}"
            for e in reversed(bundle.events)
        ]
        view.blocks.append("*Recent events*\n" + "\n".join(lines))
    if bundle.messages:
        lines = [message_line(m) for m in reversed(bundle.messages)]
        view.blocks.append("*Recent messages*\n" + "\n".join(lines))
    view.meta["bundle"] = {"events": len(bundle.events), "messages": len(bundle.messages)}
    return view
