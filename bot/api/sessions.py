"""Session routes: create, list, show, lifecycle actions, extend, heartbeat, share, delete."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from bot.api import models as m
from bot.api.errors import ApiError
from bot.api.route import Call, Param, Route, number, text
from core.durations import parse_duration
from core.errors import UsageError
from core.history.records import member_record, plan_record, session_record
from core.models import ChatRef, Role, Session
from core.services.sessions import LIST_FILTERS

API_PLATFORM = "api"  # workspaces `api:<name>` have no chat, so no channel either
DEFAULT_CHANNEL = "api"


def _session(session: Session) -> dict[str, Any]:
    return session_record(session)


# -- cursor ------------------------------------------------------------------------------------


def _cursor(page: int, limit: int) -> str:
    raw = json.dumps({"p": page, "l": limit}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        page, limit = int(data["p"]), int(data["l"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(
            400, "invalid_parameter", "query.cursor: not a cursor from this API"
        ) from None
    if not (1 <= page <= 1_000_000 and 1 <= limit <= 100):
        raise ApiError(400, "invalid_parameter", "query.cursor: not a cursor from this API")
    return page, limit


# -- handlers ----------------------------------------------------------------------------------


async def create(call: Call) -> Any:
    b = call.body
    platform = call.actor.workspace.partition(":")[0]
    if "channel_id" not in b and platform != API_PLATFORM:
        raise ApiError(
            422,
            "invalid_body",
            f"body.channel_id: required in a {platform} workspace (where its notifications "
            "go); only api: workspaces start sessions without one.",
        )
    chat = ChatRef("api", call.actor.workspace, b.get("channel_id", DEFAULT_CHANNEL))
    session = await call.api.services.sessions.start(
        call.actor,
        chat,
        b["title"],
        mode=b.get("mode"),
        max_iterations=b.get("max_iterations"),
        plan_items=b.get("plan"),
        metadata=b.get("metadata"),
    )
    return _session(session)


async def list_(call: Call) -> Any:
    q = call.query
    page, limit = _uncursor(q["cursor"]) if "cursor" in q else (1, q.get("limit", 20))
    listing = await call.api.services.sessions.list_sessions(
        call.actor,
        filter=q.get("status", "open"),
        owner=q.get("owner"),
        mode=q.get("mode"),
        page=page,
        page_size=limit,
    )
    more = listing.page < listing.pages
    return {
        "sessions": [_session(s) for s in listing.sessions],
        "total": listing.total,
        "next_cursor": _cursor(page + 1, limit) if more else None,
    }


async def show(call: Call) -> Any:
    detail = await call.api.services.sessions.show(call.actor, call.path["session"])
    return {
        "session": _session(detail.session),
        "members": [member_record(m) for m in detail.members],
        "plan": plan_record(detail.plan) if detail.plan else None,
    }


async def delete(call: Call) -> Any:
    await call.api.services.sessions.delete(call.actor, call.path["session"])
    return None


async def pause(call: Call) -> Any:
    s = await call.api.services.sessions.pause(
        call.actor, call.path["session"], reason=call.body.get("reason")
    )
    return _session(s)


async def resume(call: Call) -> Any:
    return _session(await call.api.services.sessions.resume(call.actor, call.path["session"]))


async def complete(call: Call) -> Any:
    s = await call.api.services.sessions.complete(
        call.actor, call.path["session"], summary=call.body.get("summary")
    )
    return _session(s)


async def fail(call: Call) -> Any:
    s = await call.api.services.sessions.fail(
        call.actor, call.path["session"], reason=call.body["reason"]
    )
    return _session(s)


async def cancel(call: Call) -> Any:
    s = await call.api.services.sessions.cancel(
        call.actor, call.path["session"], reason=call.body.get("reason")
    )
    return _session(s)


async def archive(call: Call) -> Any:
    return _session(await call.api.services.sessions.archive(call.actor, call.path["session"]))


async def extend(call: Call) -> Any:
    try:
        duration = parse_duration(call.body["duration"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    s = await call.api.services.sessions.extend(call.actor, call.path["session"], duration)
    return _session(s)


async def heartbeat(call: Call) -> Any:
    return _session(await call.api.services.progress.heartbeat(call.actor, call.path["session"]))


async def share(call: Call) -> Any:
    s = await call.api.services.members.share(
        call.actor,
        call.path["session"],
        call.body["user_id"],
        role=Role(call.body.get("role", "editor")),
    )
    return _session(s)


# -- the table ---------------------------------------------------------------------------------

_P = "/sessions/{session}"
_TAG = "sessions"
_FILTER: Any = Literal.__getitem__(tuple(LIST_FILTERS))
_LIST_QUERY = (
    Param(
        "status",
        _FILTER,
        "Which sessions: `open` (default), a status group, or `all`.",
    ),
    Param("owner", text(1, 80), "`mine` or an owner's user id."),
    Param("mode", text(1, 40), "Only this mode."),
    Param("limit", number(1, 100), "Page size (default 20)."),
    Param("cursor", text(1, 200), "`next_cursor` of the previous page."),
)


def _action(name: str, handler: Any, summary: str, body: Any = m.Empty) -> Route:
    return Route(
        "POST", f"{_P}/{name}", f"{name}Session", summary, _TAG, handler, m.Session, body=body
    )


ROUTES = [
    Route(
        "GET",
        "/sessions",
        "listSessions",
        "List sessions",
        _TAG,
        list_,
        m.SessionPage,
        query=_LIST_QUERY,
    ),
    Route(
        "POST",
        "/sessions",
        "createSession",
        "Start a session",
        _TAG,
        create,
        m.Session,
        201,
        m.CreateSession,
    ),
    Route("GET", _P, "getSession", "Show a session, members and plan", _TAG, show, m.SessionDetail),
    Route(
        "DELETE",
        _P,
        "deleteSession",
        "Delete a session and all its records",
        _TAG,
        delete,
        None,
        204,
    ),
    _action("pause", pause, "Pause", m.WithReason),
    _action("resume", resume, "Resume a paused or abandoned session"),
    _action("complete", complete, "Complete", m.WithSummary),
    _action("fail", fail, "Fail", m.FailSession),
    _action("cancel", cancel, "Cancel", m.WithReason),
    _action("archive", archive, "Archive an ended session"),
    _action(
        "extend",
        extend,
        "Push the abandon deadline (reopens a timed-out session)",
        m.Extend,
    ),
    _action("heartbeat", heartbeat, "Record activity"),
    Route(
        "POST",
        f"{_P}/members",
        "shareSession",
        "Share with a user in a role",
        _TAG,
        share,
        m.Session,
        body=m.Share,
    ),
]
