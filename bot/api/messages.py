"""Conversation routes: append, page, fetch and edit messages; search across the workspace."""

from __future__ import annotations

from typing import Any

from bot.api import models as m
from bot.api.errors import ApiError
from bot.api.route import Call, Param, Route, number, text
from core.errors import UsageError
from core.history.records import message_record
from core.history.search import MAX_QUERY, search
from core.records.history import MATCH_END, MATCH_START, MessageRole, SearchHit

_P = "/sessions/{session}/messages"
_TAG = "messages"


def _hit(hit: SearchHit) -> dict[str, Any]:
    snippet = hit.snippet.replace(MATCH_START, "**").replace(MATCH_END, "**")
    return {
        "session_id": hit.session_id,
        "session_ref": hit.session_ref,
        "session_title": hit.session_title,
        "message_id": hit.message_id,
        "seq": hit.seq,
        "role": hit.role.value,
        "author_id": hit.author_id,
        "created_at": hit.created_at.isoformat(),
        "snippet": snippet,
    }


async def append(call: Call) -> Any:
    b = call.body
    message = await call.api.history.append(
        call.actor,
        call.path["session"],
        b["content"],
        role=MessageRole(b.get("role", "user")),
        parent_id=b.get("parent_id"),
        metadata=b.get("metadata"),
    )
    return message_record(message)


async def page(call: Call) -> Any:
    found = await call.api.history.page(
        call.actor,
        call.path["session"],
        before=call.query.get("before"),
        limit=call.query.get("limit"),
    )
    return {
        "messages": [message_record(m) for m in found.messages],
        "next_before": found.next_before,
        "last_seq": found.last_seq,
    }


async def get(call: Call) -> Any:
    _, message = await call.api.history.get(call.actor, call.path["session"], call.path["seq"])
    return message_record(message)


async def edit(call: Call) -> Any:
    """The edited message as a GET shows it: with the revision the edit just kept."""
    history, ref, seq = call.api.history, call.path["session"], call.path["seq"]
    await history.edit(call.actor, ref, seq, call.body["content"])
    _, message = await history.get(call.actor, ref, seq)
    return message_record(message)


async def find(call: Call) -> Any:
    q = call.query
    try:
        results = await search(
            call.api.history,
            call.actor,
            q["q"],
            ref=q.get("session"),
            limit=q.get("limit", 10),
            offset=q.get("offset", 0),
        )
    except UsageError as exc:  # the query can't be read: say so without chat's usage line
        raise ApiError(400, "invalid_query", f"query.q: {exc.reason}") from None
    return {"query": results.query, "hits": [_hit(h) for h in results.hits]}


_SEARCH_QUERY = (
    Param(
        "q",
        text(1, MAX_QUERY, "deploy"),
        'Words, "phrases", prefix*, AND/OR/NOT.',
        True,
    ),
    Param("session", text(1, 64), "Only in this session (ref or id)."),
    Param("limit", number(1, 100), "How many hits (default 10)."),
    Param("offset", number(0, 10_000), "Skip this many hits."),
)
_PAGE_QUERY = (
    Param("limit", number(1, 500), "Page size (default 20)."),
    Param("before", number(1, m.MAX_INT), "Only messages older than this seq."),
)

ROUTES = [
    Route(
        "GET",
        _P,
        "listMessages",
        "Page messages, newest first",
        _TAG,
        page,
        m.MessagePage,
        query=_PAGE_QUERY,
    ),
    Route(
        "POST",
        _P,
        "appendMessage",
        "Append a message",
        _TAG,
        append,
        m.Message,
        201,
        m.AppendMessage,
    ),
    Route("GET", _P + "/{seq}", "getMessage", "One message", _TAG, get, m.Message),
    Route(
        "PATCH",
        _P + "/{seq}",
        "editMessage",
        "Edit a message (earlier text kept as a revision)",
        _TAG,
        edit,
        m.Message,
        body=m.EditMessage,
    ),
    Route(
        "GET",
        "/search",
        "searchMessages",
        "Full-text search over the workspace's messages",
        _TAG,
        find,
        m.SearchResults,
        query=_SEARCH_QUERY,
    ),
]
