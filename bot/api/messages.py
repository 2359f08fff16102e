"""Conversation routes: append, page, fetch and edit messages; search across the workspace."""

from __future__ import annotations

from typing import Any

from bot.api.route import Call, Param, Route
from bot.api.schemas import MESSAGE_ROLES, free_object, integer, obj, page_of, ref, string
from core.history.models import MATCH_END, MATCH_START, MessageRole, SearchHit
from core.history.records import message_record
from core.history.search import MAX_QUERY, search

_P = "/sessions/{session}/messages"
_TAG = "messages"
MAX_CONTENT = 64 * 1024  # the history feature's default; its own limit is checked in core


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
    message = await call.api.history.edit(
        call.actor, call.path["session"], call.path["seq"], call.body["content"]
    )
    return message_record(message)


async def find(call: Call) -> Any:
    q = call.query
    results = await search(
        call.api.history,
        call.actor,
        q["q"],
        ref=q.get("session"),
        limit=q.get("limit", 10),
        offset=q.get("offset", 0),
    )
    return {"query": results.query, "hits": [_hit(h) for h in results.hits]}


_CONTENT = string(min_length=1, max_length=MAX_CONTENT)
_APPEND = obj(
    {
        "content": _CONTENT,
        "role": string(enum=MESSAGE_ROLES),
        "parent_id": string(
            min_length=1, max_length=64, description="The id of the message replied to."
        ),
        "metadata": free_object("Anything to keep with the message (at most 16 KiB)."),
    },
    ("content",),
)
_PAGE = page_of(
    "Message",
    "messages",
    next_before={"type": ["integer", "null"], "description": "Pass as `before` for older ones."},
    last_seq=integer(0),
)
_SEARCH = page_of("SearchHit", "hits", query=string())
_SEARCH_QUERY = (
    Param(
        "q",
        string(min_length=1, max_length=MAX_QUERY),
        'Words, "phrases", prefix*, AND/OR/NOT.',
        True,
    ),
    Param("session", string(min_length=1, max_length=64), "Only in this session (ref or id)."),
    Param("limit", integer(1, 100), "How many hits (default 10)."),
    Param("offset", integer(0, 10_000), "Skip this many hits."),
)
_PAGE_QUERY = (
    Param("limit", integer(1, 500), "Page size (default 20)."),
    Param("before", integer(1, 2**31 - 1), "Only messages older than this seq."),
)

ROUTES = [
    Route(
        "GET",
        _P,
        "listMessages",
        "Page messages, newest first",
        _TAG,
        page,
        _PAGE,
        query=_PAGE_QUERY,
    ),
    Route(
        "POST", _P, "appendMessage", "Append a message", _TAG, append, ref("Message"), 201, _APPEND
    ),
    Route("GET", _P + "/{seq}", "getMessage", "One message", _TAG, get, ref("Message")),
    Route(
        "PATCH",
        _P + "/{seq}",
        "editMessage",
        "Edit a message (earlier text kept as a revision)",
        _TAG,
        edit,
        ref("Message"),
        body=obj({"content": _CONTENT}, ("content",)),
    ),
    Route(
        "GET",
        "/search",
        "searchMessages",
        "Full-text search over the workspace's messages",
        _TAG,
        find,
        _SEARCH,
        query=_SEARCH_QUERY,
    ),
]
