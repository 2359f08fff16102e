"""Agent progress routes: iterations, tool calls and the session's event log."""

from __future__ import annotations

from typing import Any

from bot.api.route import Call, Param, Route
from bot.api.schemas import free_object, integer, obj, page_of, record, ref, string
from core.history.records import event_record, session_record
from core.models import EventType

_P = "/sessions/{session}"
_TAG = "progress"
_ANY: dict[str, Any] = {"description": "Any JSON value."}


async def iterate(call: Call) -> Any:
    session = await call.api.service.record_iteration(
        call.actor,
        call.path["session"],
        count=call.body.get("count", 1),
        data=call.body.get("data"),
    )
    return session_record(session)


async def tool_call(call: Call) -> Any:
    seq = await call.api.service.record_event(
        call.actor, call.path["session"], EventType.TOOL_CALL, call.body
    )
    return {"seq": seq}


async def events(call: Call) -> Any:
    limit = call.query.get("limit", 20)
    _, found = await call.api.service.events(
        call.actor, call.path["session"], limit=limit, before_seq=call.query.get("before")
    )
    more = len(found) == limit and found[-1].seq > 1
    return {
        "events": [event_record(e) for e in found],
        "next_before": found[-1].seq if more else None,
    }


_TOOL_CALL = obj(
    {
        "tool": string(min_length=1, max_length=200, description="The tool's name."),
        "input": _ANY,
        "output": _ANY,
        "status": string(max_length=40, description="e.g. `ok`, `error`."),
        "duration_ms": integer(0, 86_400_000),
    },
    ("tool",),
)
_ITERATION = obj(
    {
        "count": integer(1, 1000, description="How many iterations to count (default 1)."),
        "data": free_object("Anything to keep with the iteration event."),
    }
)
_EVENTS = page_of(
    "Event",
    "events",
    next_before=integer(1, description="Pass as `before` for older events; null at the end")
    | {"type": ["integer", "null"]},
)
_PAGE_QUERY = (
    Param("limit", integer(1, 200), "Page size (default 20)."),
    Param("before", integer(1, 2**31 - 1), "Only entries older than this seq."),
)

ROUTES = [
    Route(
        "POST",
        f"{_P}/iterations",
        "recordIteration",
        "Count iterations (may time the session out)",
        _TAG,
        iterate,
        ref("Session"),
        body=_ITERATION,
    ),
    Route(
        "POST",
        f"{_P}/tool-calls",
        "recordToolCall",
        "Record a tool call event",
        _TAG,
        tool_call,
        record(seq=integer(1)),
        201,
        _TOOL_CALL,
    ),
    Route(
        "GET",
        f"{_P}/events",
        "listEvents",
        "Page the event log, newest first",
        _TAG,
        events,
        _EVENTS,
        query=_PAGE_QUERY,
    ),
]
