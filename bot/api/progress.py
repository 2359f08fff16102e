"""Agent progress routes: iterations, tool calls and the session's event log."""

from __future__ import annotations

from typing import Any

from bot.api import models as m
from bot.api.event_stream import ROUTE as STREAM
from bot.api.route import Call, Param, Route, number
from core.history.records import event_record, session_record
from core.models import EventType

_P = "/sessions/{session}"
_TAG = "progress"


async def iterate(call: Call) -> Any:
    session = await call.api.services.progress.record_iteration(
        call.actor,
        call.path["session"],
        count=call.body.get("count", 1),
        data=call.body.get("data"),
    )
    return session_record(session)


async def tool_call(call: Call) -> Any:
    seq = await call.api.services.progress.record_event(
        call.actor, call.path["session"], EventType.TOOL_CALL, call.body
    )
    return {"seq": seq}


async def events(call: Call) -> Any:
    limit = call.query.get("limit", 20)
    _, found = await call.api.services.progress.events(
        call.actor, call.path["session"], limit=limit, before_seq=call.query.get("before")
    )
    more = len(found) == limit and found[-1].seq > 1
    return {
        "events": [event_record(e) for e in found],
        "next_before": found[-1].seq if more else None,
    }


_PAGE_QUERY = (
    Param("limit", number(1, 200), "Page size (default 20)."),
    Param("before", number(1, m.MAX_INT), "Only entries older than this seq."),
)

ROUTES = [
    Route(
        "POST",
        f"{_P}/iterations",
        "recordIteration",
        "Count iterations (may time the session out)",
        _TAG,
        iterate,
        m.Session,
        body=m.RecordIteration,
    ),
    Route(
        "POST",
        f"{_P}/tool-calls",
        "recordToolCall",
        "Record a tool call event",
        _TAG,
        tool_call,
        m.ToolCallRecorded,
        201,
        m.RecordToolCall,
    ),
    Route(
        "GET",
        f"{_P}/events",
        "listEvents",
        "Page the event log, newest first",
        _TAG,
        events,
        m.EventPage,
        query=_PAGE_QUERY,
    ),
    STREAM,  # the event log followed live (Server-Sent Events)
]
