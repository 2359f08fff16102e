"""Export a session as JSON (everything, re-importable) or Markdown (a readable transcript).

Both stream: they yield text chunks while reading messages and events page by page, so a
session of any size exports in bounded memory. The export covers the messages and events that
existed when it started.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.history import records
from core.history.summary import gather
from core.models import Actor, Decision, Event, EventType, Plan, PlanStatus, Session
from core.records.history import Message
from core.services.sessions import system_actor

if TYPE_CHECKING:
    from core.history.messages import HistoryService
    from core.wiring import Services

PAGE = 500
# Session-level moves listed under "Decisions"; decisions on a plan (approvals, rejections,
# expiry, supersession) are listed once, under their plan.
DECISIONS = frozenset(
    {
        EventType.PLAN_SUBMITTED, EventType.PAUSED, EventType.RESUMED, EventType.COMPLETED,
        EventType.FAILED, EventType.CANCELLED, EventType.TIMED_OUT, EventType.ABANDONED,
        EventType.ARCHIVED, EventType.EXTENDED, EventType.SHARED, EventType.FORKED,
        EventType.UNSHARED, EventType.TRANSFERRED,
    }
)  # fmt: skip


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def messages_of(
    history: HistoryService, session_id: str, *, up_to: int
) -> AsyncIterator[list[Message]]:
    """Pages of messages (with revisions), oldest first, up to seq `up_to`."""
    after = 0
    while after < up_to:
        page = await history.store.history.after(session_id, after_seq=after, limit=PAGE)
        page = [m for m in page if m.seq <= up_to]
        if not page:
            return
        revisions = await history.store.history.revisions([m.id for m in page if m.edited_at])
        for message in page:
            message.revisions = revisions.get(message.id, [])
        yield page
        after = page[-1].seq


async def events_of(
    history: HistoryService, session_id: str, *, up_to: int
) -> AsyncIterator[list[Event]]:
    """Pages of events, oldest first, up to seq `up_to`."""
    after = 0
    while after < up_to:
        page = await history.store.events.after(session_id, after_seq=after, limit=PAGE)
        page = [e for e in page if e.seq <= up_to]
        if not page:
            return
        yield page
        after = page[-1].seq


async def _limits(history: HistoryService, session: Session) -> tuple[int, int]:
    last_message = await history.store.history.last_seq(session.id)
    latest = await history.store.events.newest(session.id, limit=1)
    return last_message, latest[0].seq if latest else 0


async def json_chunks(
    history: HistoryService, actor: Actor, ref: str | None, *, channel_id: str | None = None
) -> AsyncGenerator[str, None]:
    """The JSON export of a session (any member of its workspace), in chunks."""
    session = await history.find(actor, ref, channel_id)
    last_message, last_event = await _limits(history, session)
    store = history.store
    header = {
        "format_version": records.FORMAT_VERSION,
        "exported_at": history.clock.now().isoformat(),
        "session": records.session_record(session),
        "members": [records.member_record(m) for m in await store.sessions.members(session.id)],
        "context_expiry": {
            k: v.isoformat() for k, v in (await store.context.expiry(session.id)).items()
        },
        "plans": [records.plan_record(p) for p in await store.plans.of_session(session.id)],
        "modifications": [
            records.modification_record(m)
            for m in await store.plans.modifications_of_session(session.id)
        ],
    }
    yield _dump(header)[:-1] + ',"messages":['
    first = True
    async for messages in messages_of(history, session.id, up_to=last_message):
        body = ",".join(_dump(records.message_record(m)) for m in messages)
        yield ("" if first else ",") + body
        first = False
    yield '],"events":['
    first = True
    async for events in events_of(history, session.id, up_to=last_event):
        body = ",".join(_dump(records.event_record(e)) for e in events)
        yield ("" if first else ",") + body
        first = False
    yield "]}\n"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _plan_lines(plan: Plan) -> list[str]:
    """A plan's items with their comments, then each decision on it once, in order."""
    lines = [f"## Plan v{plan.version} ({plan.status.value})", ""]
    for item in plan.items:
        who = f" → @{item.assignee}" if item.assignee else ""
        lines.append(f"{item.position}. [{item.status.value}] {item.title}{who}")
        lines += [_comment_line(c) for c in item.comments]
    lines.append("")
    settled = plan.settled_as
    for a in plan.approvals:
        verb = "approved" if a.decision is Decision.APPROVE else "rejected"
        if a.user_id == plan.decided_by and settled is not None:
            verb = f"**{verb}**"  # the decision that settled the plan
        why = f" — {a.reason}" if a.reason else ""
        lines.append(f"- {verb} by @{a.user_id} at {_when(a.at)}{why}")
    if settled is PlanStatus.EXPIRED:
        lines.append(f"- **expired** at {_when(plan.decided_at)}")
    if plan.status is PlanStatus.SUPERSEDED:
        who = f" by @{plan.superseded_by}" if plan.superseded_by else ""
        when = _when(plan.superseded_at)
        lines.append(f"- **superseded**{who} at {when} (plan v{plan.version + 1})")
    return [*lines, ""]


def _comment_line(comment: dict[str, Any]) -> str:
    try:
        at = _when(datetime.fromisoformat(str(comment.get("at"))))
    except ValueError:
        at = "—"
    return f"    - comment by @{comment.get('by')} at {at}: {comment.get('text', '')}"


def _decision(event: Event) -> str:
    what = event.type.value.replace("_", " ")
    if "plan" in event.data:
        what += f" (v{event.data['plan']})"
    reason = event.data.get("reason")
    why = f" — {reason}" if isinstance(reason, str) and reason else ""
    return f"- {_when(event.created_at)} {what} by @{event.actor_id}{why}"


def _message_lines(m: Message) -> list[str]:
    head = f"**#{m.seq} · {m.role.value} · @{m.author_id}** · {_when(m.created_at)}"
    if m.deleted:
        return [f"_#{m.seq} deleted by @{m.deleted_by} at {_when(m.deleted_at)}_", ""]
    if m.edited_at:
        head += f" (edited {_when(m.edited_at)})"
    if m.parent_id:
        head += " ↳ reply"
    return [head, "", m.content, ""]


async def markdown_chunks(
    history: HistoryService, actor: Actor, ref: str | None, *, channel_id: str | None = None
) -> AsyncGenerator[str, None]:
    """A readable transcript: the session, its summary, plans, decisions and every message."""
    session = await history.find(actor, ref, channel_id)
    last_message, last_event = await _limits(history, session)
    summary = await history.summarizer(await gather(history, session))
    head = [
        f"# Session #{session.ref}: {session.title}",
        "",
        f"- Status: {session.status.value} · Mode: {session.mode} · Owner: @{session.owner_id}",
        f"- Created {_when(session.created_at)} · last activity {_when(session.last_activity_at)}",
    ]
    if session.result:
        head.append(f"- Result: {session.result}")
    if session.error:
        head.append(f"- Error: {session.error}")
    if session.parent_id:
        head.append(f"- Forked from session {session.parent_id}")
    head += ["", "## Summary", "", summary.text(), ""]
    for plan in await history.store.plans.of_session(session.id):
        head += _plan_lines(plan)
    yield "\n".join(head) + "\n"
    decisions: list[str] = []
    async for events in events_of(history, session.id, up_to=last_event):
        decisions += [_decision(e) for e in events if e.type in DECISIONS]
    if decisions:
        yield "## Decisions\n\n" + "\n".join(decisions) + "\n\n"
    yield "## Transcript\n\n"
    count = 0
    async for messages in messages_of(history, session.id, up_to=last_message):
        count += len(messages)
        yield "\n".join(line for m in messages for line in _message_lines(m)) + "\n"
    if count == 0:
        yield "_No messages._\n"


async def export_record(services: Services, session: Session, now: datetime) -> dict[str, Any]:
    """The whole JSON export as one mapping: the cleanup job's `Exporter` (holds it in memory)."""
    actor = system_actor(session.workspace)
    text = "".join([chunk async for chunk in json_chunks(services.history, actor, session.id)])
    record: dict[str, Any] = json.loads(text)
    return record
