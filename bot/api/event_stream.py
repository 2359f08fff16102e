"""A session's audit events as Server-Sent Events, resumable by seq.

Each event goes out as `id: <seq>`, `event: <type>`, `data: <the event record>`; a client that
reconnects with `Last-Event-ID: k` (or starts with `?after=k`) gets k+1, k+2 … once, in order.
Nothing is queued per client: the stream reads the next batch from the database by seq only
after the previous one was written and drained (aiohttp's drain waits while the client does
not read), and sleeps until the commit that adds an event to the session wakes it
(`Progress.next_events`), sending a comment line as a heartbeat when nothing came for
`ApiConfig.stream_heartbeat` seconds. Open streams are capped per token and per process, and
count among the token's parked waits (bot/api/parking.py, which also ends a stream whose client
has gone without waiting for its next write); each ends after `ApiConfig.stream_lifetime`
seconds (the client reconnects with `Last-Event-ID`, which checks its token and access again).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.api import models as m
from bot.api.errors import ApiError
from bot.api.route import Call, Param, Route, number
from bot.api.runtime import TOKEN
from bot.api.streams import Stream
from core.history.records import event_record
from core.models import Event

BATCH = 50  # events read (and held) at once per stream
HEARTBEAT = b": heartbeat\n\n"
LAST_EVENT_ID = "Last-Event-ID"


def frame(event: Event) -> str:
    data = json.dumps(event_record(event), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {data}\n\n"


def _resume_point(call: Call) -> int:
    """The seq to start after: `Last-Event-ID` (a reconnecting client's) before `?after=`."""
    header = call.request.headers.get(LAST_EVENT_ID)
    if header is None:
        return int(call.query.get("after", 0))
    if not header.isascii() or not header.isdigit() or len(header) > 18:
        raise ApiError(400, "invalid_parameter", f"{LAST_EVENT_ID}: an event seq, 0 or more")
    return int(header)


async def stream(call: Call) -> Any:
    api = call.api
    progress = api.services.progress
    after = _resume_point(call)
    session = await progress.follow(call.actor, call.path["session"])  # 404 before the headers
    token = call.request[TOKEN]
    response = web.StreamResponse(headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    with (
        api.parking.slot(token.id),  # 429 past the token's cap of open waits
        api.streams.opened(
            Stream(token.id, session.id, after, response, call.request.transport)
        ) as live,
    ):
        await response.prepare(call.request)
        writer = call.request.writer
        clock = asyncio.get_running_loop().time  # real time, as the socket's own
        ends = clock() + api.config.stream_lifetime
        while not api.streams.closing and clock() < ends:
            up_to = min(api.config.stream_heartbeat, ends - clock())
            found = await call.api.parking.unless_gone(
                call.request,
                progress.next_events(session, after_seq=live.sent, up_to=up_to, limit=BATCH),
            )
            if found is None:
                break  # the client went away while the stream waited
            if api.streams.closing or (not found and clock() >= ends):
                break
            chunk = "".join(frame(e) for e in found).encode() if found else HEARTBEAT
            try:
                await response.write(chunk)
                await writer.drain()  # no room: wait here, reading nothing more
            except ConnectionError:
                break  # the client went away
            if found:
                live.sent = found[-1].seq
    return response


ROUTE = Route(
    "GET",
    "/sessions/{session}/events/stream",
    "streamEvents",
    "Follow the event log as Server-Sent Events (resume with Last-Event-ID)",
    "progress",
    stream,
    query=(
        Param(
            "after",
            number(0, m.MAX_INT, 0),
            f"Start after this seq (default 0: from the first event); the "
            f"`{LAST_EVENT_ID}` header of a reconnecting client takes precedence.",
        ),
    ),
    stream={
        "text/event-stream": {  # one Server-Sent Event (`: heartbeat` comments are not)
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "The event's seq."},
                "event": {"type": "string", "description": "The event's type."},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "The event as `GET …/events` lists it (an Event).",
                },
            },
            "required": ["id", "event", "data"],
        }
    },
)
