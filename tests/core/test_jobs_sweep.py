"""The sweep with an injected clock: abandonment, warnings, reminders, expiry, archival."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.clock import ManualClock
from core.jobs import sweep
from core.models import Decision, EventType, Role, Status
from core.records.jobs import Reminder, ReminderKind, ReminderStatus
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.store.sqlite.store import SqliteStore
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")
HOUR = timedelta(hours=1)


async def _sweep(services: Services) -> sweep.SweepReport:
    return await sweep.sweep_due(services, services.clock.now())


async def _titles(store: SqliteStore, session_id: str) -> list[str]:
    return [row.payload["title"] for row in await store.outbox.rows(session_id=session_id)]


async def test_idle_session_is_warned_then_abandoned_once(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "idle")  # abandon_after 24h, warning 4h
    clock.advance(19 * HOUR)
    assert (await _sweep(services)).total() == 0
    clock.advance(HOUR + timedelta(minutes=1))
    assert (await _sweep(services)).warned == 1
    assert (await _sweep(services)).warned == 0, "the warning for one deadline goes out once"
    clock.advance(4 * HOUR)
    report = await _sweep(services)
    assert report.abandoned == 1
    assert (await _sweep(services)).abandoned == 0
    assert (await store.sessions.by_id(session.id)).status is Status.ABANDONED  # type: ignore[union-attr]
    assert await count(store, "events", "session_id = ? AND type = 'abandoned'", session.id) == 1
    titles = await _titles(store, session.id)
    warning = next(i for i, t in enumerate(titles) if "will be abandoned" in t)
    abandoned = next(i for i, t in enumerate(titles) if "abandoned after no activity" in t)
    assert warning < abandoned, "the warning is sent before the abandonment notification"


async def test_activity_pushes_the_deadline(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "busy")
    clock.advance(20 * HOUR)
    await services.progress.heartbeat(OWNER, str(session.ref))  # deadline: now + 24h
    clock.advance(5 * HOUR)  # past the first deadline
    report = await _sweep(services)
    assert report.abandoned == 0 and report.warned == 0
    clock.advance(15 * HOUR + timedelta(minutes=1))  # 4h before the new deadline
    assert (await _sweep(services)).warned == 1
    clock.advance(4 * HOUR)
    assert (await _sweep(services)).abandoned == 1


async def test_pending_reminders_at_most_three_spaced_as_configured(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "needs approval")
    await services.plans.submit(OWNER, str(session.ref), ["one", "two"])
    sent = []
    for _ in range(24):  # every 30 minutes for 12 hours (remind_pending_after 2h)
        clock.advance(timedelta(minutes=30))
        sent.append((await _sweep(services)).pending_reminders)
    # due at 2h, 4h and 6h after submission (sweeps 4, 8, 12), never again
    assert [i + 1 for i, n in enumerate(sent) if n] == [4, 8, 12]
    assert sum(sent) == 3
    assert await count(store, "reminders", "kind = 'auto_pending'") == 3


async def test_a_decision_stops_pending_reminders(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "decided")
    await services.members.share(OWNER, str(session.ref), "amy", role=Role.APPROVER)
    plan = (await services.plans.submit(OWNER, str(session.ref), ["one"])).plan
    clock.advance(2 * HOUR)
    assert (await _sweep(services)).pending_reminders == 1
    await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=plan.id)
    for _ in range(6):
        clock.advance(2 * HOUR)
        assert (await _sweep(services)).pending_reminders == 0


async def test_pending_reminders_are_dmed_to_approvers_who_have_not_approved(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "two approvals")
    for user in ("amy", "bob"):
        await services.members.share(OWNER, str(session.ref), user, role=Role.APPROVER)
    await services.members.share(OWNER, str(session.ref), "eve", role=Role.EDITOR)
    plan = (await services.plans.submit(OWNER, str(session.ref), ["one"], need=2)).plan
    await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=plan.id)
    clock.advance(2 * HOUR)
    assert (await _sweep(services)).pending_reminders == 1
    rows = await store.outbox.rows(session_id=session.id)
    dms = [r.target for r in rows if r.kind.value == "dm"]
    assert dms == [{"user_id": "bob"}]
    thread = [r for r in rows if r.kind.value == "channel_message" and "reminder:" in r.dedupe_key]
    assert len(thread) == 1 and "waiting for plan approval" in str(thread[0].payload)


async def test_paused_sessions_get_one_reminder_per_pause(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    await services.workspace.set_setting(actor("root"), "abandon_after", "3d")
    session = await services.sessions.start(OWNER, CHAT, "on hold")
    await services.sessions.pause(OWNER, str(session.ref))
    clock.advance(23 * HOUR)
    assert (await _sweep(services)).paused_reminders == 0
    clock.advance(HOUR)
    assert (await _sweep(services)).paused_reminders == 1
    assert (await _sweep(services)).paused_reminders == 0
    rows = await store.outbox.rows(session_id=session.id)
    assert any(r.kind.value == "dm" and r.target == {"user_id": "owner"} for r in rows)


async def test_expired_approval_pauses_the_session_with_a_rerequest_button(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "short fuse")
    plan = (await services.plans.submit(OWNER, str(session.ref), ["one"], expires=HOUR)).plan
    clock.advance(HOUR)
    assert (await _sweep(services)).expired == 1
    assert (await _sweep(services)).expired == 0
    assert (await store.sessions.by_id(session.id)).status is Status.PAUSED  # type: ignore[union-attr]
    update = [
        r
        for r in await store.outbox.rows(session_id=session.id)
        if r.dedupe_key.startswith("expired:")
    ]
    assert update and update[0].payload["buttons"][0]["label"] == "Request approval again"
    assert (await store.plans.get(plan.id)).status.value == "expired"  # type: ignore[union-attr]


async def test_user_reminder_fires_once_as_a_dm(
    runner: CommandRunner, services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    await runner.run(OWNER, CHAT, "start Review")
    reply = await runner.run(OWNER, CHAT, "remind 1 in 30m check the canary")
    assert reply is not None and "Reminder set for" in reply.view.title
    clock.advance(timedelta(minutes=29))
    assert (await _sweep(services)).user_reminders == 0
    clock.advance(timedelta(minutes=1))
    assert (await _sweep(services)).user_reminders == 1
    assert (await _sweep(services)).user_reminders == 0
    session = await services.sessions.find(OWNER, "1")
    dms = [r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "dm"]
    assert len(dms) == 1 and dms[0].payload["blocks"] == ["check the canary"]


async def test_ended_sessions_are_archived_after_archive_after(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "done")
    await services.sessions.complete(OWNER, str(session.ref))
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert (await _sweep(services)).archived == 0
    clock.advance(timedelta(seconds=1))
    assert (await _sweep(services)).archived == 1
    assert (await store.sessions.by_id(session.id)).status is Status.ARCHIVED  # type: ignore[union-attr]


async def test_one_bad_row_does_not_stop_the_sweep(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "reminded")
    now = clock.now()
    for rid, target in (("bad", "nobody"), ("good", "user:owner")):
        await store.jobs.add_reminder(
            Reminder(rid, session.workspace, session.id, target, "x", now, "owner",
                     ReminderKind.USER, ReminderStatus.SCHEDULED, now)
        )  # fmt: skip
    report = await _sweep(services)
    assert report.user_reminders == 1 and report.failed == 1


async def test_two_processes_sweeping_at_once_act_once(
    db_url: str, store: SqliteStore, clock: ManualClock
) -> None:
    second_store = open_store(db_url)
    await second_store.open()
    try:
        config = ServiceConfig()
        one = build_services(store, clock=clock, config=config)
        two = build_services(second_store, clock=clock, config=config)
        idle = await one.sessions.start(OWNER, CHAT, "idle")
        waiting = await one.sessions.start(OWNER, CHAT, "waiting")
        await one.plans.submit(OWNER, str(waiting.ref), ["a"])
        clock.advance(2 * HOUR)
        await one.progress.heartbeat(OWNER, str(waiting.ref))
        clock.advance(22 * HOUR)  # idle is due; waiting has a reminder due, not abandonment
        reports = await asyncio.gather(*(sweep.sweep_due(s, clock.now()) for s in (one, two) * 3))
        assert sum(r.abandoned for r in reports) == 1
        assert sum(r.pending_reminders for r in reports) == 1
        assert sum(r.warned for r in reports) == 1  # waiting's deadline is 2h away
        assert (
            await count(store, "events", "session_id = ? AND type = ?", idle.id, "abandoned") == 1
        )
        assert await count(store, "events", "type = ?", EventType.REMINDER_SENT.value) == 2
        # the scheduled form claims the slot: only one of them runs it at all
        clock.advance(HOUR)
        runs = await asyncio.gather(
            sweep.run(one, clock.now(), every=timedelta(minutes=1), owner="a"),
            sweep.run(two, clock.now(), every=timedelta(minutes=1), owner="b"),
        )
        assert sorted(r is None for r in runs) == [False, True]
    finally:
        await second_store.close()
