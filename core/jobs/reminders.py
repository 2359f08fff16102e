"""Reminders: people's own (`/session remind`) and the sweep's automatic ones.

Sending a reminder is one unit: the claim (inserting the automatic reminder under its
deterministic id, or moving a user reminder from scheduled to sent), the `reminder_sent` event
and the notifications. Two processes sending the same reminder race on the claim; one wins.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import notices
from core.errors import UsageError
from core.jobs import views
from core.models import Actor, Event, EventType, Role, Session, Source, new_id
from core.permissions import Perm
from core.records.jobs import (
    ClaimReminder,
    DueSession,
    JobWrite,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SendReminder,
)
from core.services.sessions import SYSTEM_USER
from core.store import ops
from core.views import View
from core.wiring import Services

MAX_TEXT = 500
MAX_DMS = 10  # approvers DMed per pending reminder; the thread notice reaches the rest


def sent_event(session: Session, kind: ReminderKind, now: datetime, **data: object) -> ops.AddEvent:
    """The `reminder_sent` audit event of an automatic reminder."""
    return ops.AddEvent(
        Event(
            new_id(),
            session.id,
            0,
            EventType.REMINDER_SENT,
            SYSTEM_USER,
            Source.SCHEDULER,
            {"kind": kind.value, **data},
            now,
        )
    )


def _auto(due: DueSession, kind: ReminderKind, text: str, now: datetime) -> Reminder:
    s = due.session
    return Reminder(
        id=due.key,
        workspace=s.workspace,
        session_id=s.id,
        target=f"user:{s.owner_id}",
        text=text,
        due_at=now,
        created_by=SYSTEM_USER,
        kind=kind,
        status=ReminderStatus.SENT,
        created_at=now,
    )


async def _send(services: Services, claim: JobWrite, unit: list[ops.Op]) -> bool:
    return await services.store.jobs.apply_claimed([claim], unit)


async def send_pending(services: Services, due: DueSession, now: datetime) -> bool:
    """Remind approvers that a plan waits for them: in the session's thread, and by DM to each
    member with the approver role who has not approved it yet."""
    s = due.session
    view = views.pending_reminder(s, due.number, due.since or s.updated_at, now)
    reminder = _auto(due, ReminderKind.AUTO_PENDING, view.title, now)
    unit: list[ops.Op] = [
        sent_event(s, ReminderKind.AUTO_PENDING, now, number=due.number, plan_id=due.plan_id),
        notices.to_thread(s, view, key=f"reminder:{due.key}", now=now),
    ]
    for user_id in await _waiting_approvers(services, due):
        unit.append(
            notices.direct(s, user_id, view, key=f"reminder-dm:{due.key}:{user_id}", now=now)
        )
    return await _send(services, ClaimReminder(reminder), unit)


async def _waiting_approvers(services: Services, due: DueSession) -> list[str]:
    """Approver-role members who have not approved the pending plan (at most `MAX_DMS`)."""
    members = await services.store.sessions.members(due.session.id)
    approvers = sorted(m.user_id for m in members if m.role is Role.APPROVER)
    if not approvers:
        return []
    plan = await services.store.plans.get(due.plan_id) if due.plan_id else None
    done = plan.approvers_of_current() if plan is not None else set()
    return [user_id for user_id in approvers if user_id not in done][:MAX_DMS]


async def send_paused(services: Services, due: DueSession, now: datetime) -> bool:
    return await _notify_owner(
        services, due, ReminderKind.AUTO_PAUSED, views.paused_reminder(due.session, now), now
    )


async def send_warning(services: Services, due: DueSession, now: datetime) -> bool:
    return await _notify_owner(
        services,
        due,
        ReminderKind.AUTO_ABANDON_WARNING,
        views.abandon_warning(due.session, now),
        now,
    )


async def _notify_owner(
    services: Services, due: DueSession, kind: ReminderKind, view: View, now: datetime
) -> bool:
    s = due.session
    unit: list[ops.Op] = [
        sent_event(s, kind, now),
        notices.to_thread(s, view, key=f"reminder:{due.key}", now=now),
        notices.direct(s, s.owner_id, view, key=f"reminder-dm:{due.key}", now=now),
    ]
    return await _send(services, ClaimReminder(_auto(due, kind, view.title, now)), unit)


async def send_user(services: Services, reminder: Reminder, now: datetime) -> bool:
    """Deliver a due `/session remind` reminder as a DM to the person who set it."""
    session = await services.store.sessions.by_id(reminder.session_id or "")
    if session is None:  # its session was deleted: nothing to say, nothing to claim
        return False
    view = views.user_reminder(session, reminder)
    user_id = reminder.target.split(":", 1)[1]
    unit: list[ops.Op] = [
        sent_event(session, ReminderKind.USER, now, reminder_id=reminder.id),
        notices.direct(session, user_id, view, key=f"reminder:{reminder.id}", now=now),
    ]
    return await _send(services, SendReminder(reminder.id), unit)


async def create(
    services: Services,
    actor: Actor,
    ref: str | None,
    *,
    channel_id: str | None,
    after: timedelta | None = None,
    at: tuple[int, int] | None = None,
    text: str | None = None,
) -> tuple[Session, Reminder, str]:
    """Schedule a reminder for the actor about a session; `at` is in the workspace timezone."""
    session = await services.sessions.find(actor, ref, channel_id=channel_id)
    await services.access.require(actor, session, Perm.WORK)
    now = services.clock.now()
    timezone = (await services.settings.get(actor.workspace)).timezone
    if after is not None:
        due = now + after
    elif at is not None:
        due = next_time_of_day(now, at, timezone)
    else:
        raise UsageError("Say when: `in <duration>` or `at <HH:MM>`.")
    reminder = Reminder(
        id=new_id(),
        workspace=actor.workspace,
        session_id=session.id,
        target=f"user:{actor.user_id}",
        text=(text or "").strip()[:MAX_TEXT],
        due_at=due,
        created_by=actor.user_id,
        kind=ReminderKind.USER,
        status=ReminderStatus.SCHEDULED,
        created_at=now,
    )
    await services.store.jobs.add_reminder(reminder)
    return session, reminder, timezone


def next_time_of_day(now: datetime, at: tuple[int, int], timezone: str) -> datetime:
    """The next moment (after `now`) that reads `at` on a clock in `timezone`."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), time(*at), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(*at), tzinfo=zone)
    return candidate.astimezone(now.tzinfo)
