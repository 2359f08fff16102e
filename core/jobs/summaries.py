"""Channel summaries (§9): scheduled per subscription, caught up on start, never sent twice.

A summary slot is the schedule's fire time. Sending it is one unit: claim
(`summary:<workspace>:<channel>`, slot) in job_runs, record last_sent_at and enqueue the
channel message. A slot more than an hour old is skipped (the next one will cover the gap).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.jobs import schedules, views
from core.jobs.runs import OWNER
from core.models import Actor, OutboxKind, OutboxRow, OutboxStatus, new_id
from core.records.jobs import ClaimSlot, JobWrite, MarkSummarySent, Subscription
from core.store import ops
from core.store.codec import ts
from core.views import View
from core.wiring import Services

_log = logging.getLogger(__name__)

LATE_LIMIT = timedelta(hours=1)
DEFAULT_LOOKBACK = timedelta(days=1)


def due_slot(sub: Subscription, now: datetime) -> datetime | None:
    """The slot to send at `now`: the latest fire time, unless it is an hour late or more."""
    slot = schedules.previous_fire(schedules.parse_schedule(sub.schedule), sub.timezone, now)
    return slot if now - slot < LATE_LIMIT else None


async def build(
    services: Services, workspace: str, channel_id: str, *, since: datetime, now: datetime
) -> View:
    rows = await services.store.subscriptions.summary_rows(
        workspace, channel_id, since=since, now=now
    )
    latency = await services.workspace.approval_latency(
        workspace, since=since, until=now, channel_id=channel_id
    )
    requests = await services.workspace.request_stats(
        workspace, since=since, until=now, channel_id=channel_id
    )
    return views.summary(channel_id, rows, latency, since=since, now=now, requests=requests)


async def send_slot(
    services: Services, sub: Subscription, now: datetime, *, owner: str = OWNER
) -> bool:
    """Send the subscription's current slot if it is due, unclaimed and < 1 h late."""
    slot = due_slot(sub, now)
    if slot is None:
        return False
    since = sub.last_sent_at or (slot - DEFAULT_LOOKBACK)
    view = await build(services, sub.workspace, sub.channel_id, since=since, now=now)
    row = OutboxRow(
        id=new_id(),
        workspace=sub.workspace,
        kind=OutboxKind.CHANNEL_MESSAGE,
        target={"channel_id": sub.channel_id},
        payload=view.to_json(),
        dedupe_key=f"{sub.job}:{ts(slot)}",
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    claims: list[JobWrite] = [
        ClaimSlot(sub.job, slot, owner, now),
        MarkSummarySent(sub.workspace, sub.channel_id, now),
    ]
    sent = await services.store.jobs.apply_claimed(claims, [ops.Enqueue(row)])
    if sent:
        _log.info("summary sent for %s slot %s", sub.job, slot.isoformat())
    return sent


async def run_subscription(
    services: Services, workspace: str, channel_id: str, now: datetime, *, owner: str = OWNER
) -> bool:
    """What the scheduler's per-subscription job calls when it fires."""
    for sub in await services.store.subscriptions.every(workspace):
        if sub.channel_id == channel_id:
            return await send_slot(services, sub, now, owner=owner)
    return False  # unsubscribed since the job was scheduled


async def catch_up(services: Services, now: datetime, *, owner: str = OWNER) -> int:
    """On start: send each slot missed while the bot was down, if it is under an hour late."""
    sent = 0
    for sub in await services.store.subscriptions.every():
        try:
            slot = due_slot(sub, now)
            if slot is None or slot <= (sub.last_sent_at or sub.created_at):
                continue
            sent += await send_slot(services, sub, now, owner=owner)
        except Exception:
            _log.exception("summary catch-up failed for %s", sub.job)
    return sent


async def subscribe(
    services: Services, actor: Actor, channel_id: str, schedule: str, timezone: str | None
) -> tuple[Subscription, datetime]:
    """An admin schedules this channel's summary; returns it and its next fire time."""
    await services.access.require_admin(actor, action="schedule channel summaries")
    parsed = schedules.parse_schedule(schedule)
    tz = timezone or (await services.settings.get(actor.workspace)).timezone
    schedules.zone(tz)
    now = services.clock.now()
    sub = Subscription(actor.workspace, channel_id, parsed.text, tz, actor.user_id, now)
    await services.store.subscriptions.put(sub)
    return sub, schedules.next_fire(parsed, tz, now)


async def unsubscribe(services: Services, actor: Actor, channel_id: str) -> bool:
    await services.access.require_admin(actor, action="schedule channel summaries")
    return await services.store.subscriptions.remove(actor.workspace, channel_id)


async def schedule_view(services: Services, actor: Actor, channel_id: str) -> View:
    """A bare `/session summary`: this channel's schedule and its next time (anyone may look)."""
    for sub in await services.store.subscriptions.every(actor.workspace):
        if sub.channel_id == channel_id:
            parsed = schedules.parse_schedule(sub.schedule)
            return views.summary_scheduled(
                sub, schedules.next_fire(parsed, sub.timezone, services.clock.now())
            )
    return views.summary_unscheduled(channel_id)


async def now_view(services: Services, actor: Actor, channel_id: str) -> View:
    """`/session summary now` (admins): since the last summary (or a day), not recorded."""
    await services.access.require_admin(actor, action="post channel summaries")
    now = services.clock.now()
    subs = [
        s
        for s in await services.store.subscriptions.every(actor.workspace)
        if s.channel_id == channel_id
    ]
    since = (subs[0].last_sent_at if subs else None) or now - DEFAULT_LOOKBACK
    return await build(services, actor.workspace, channel_id, since=since, now=now)
