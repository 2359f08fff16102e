"""Channel summaries: schedules in timezones, catch-up after downtime, exactly once, content."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import ManualClock
from core.errors import Forbidden, UsageError
from core.jobs import schedules, summaries
from core.records.jobs import Subscription
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.store.sqlite.store import SqliteStore
from core.wiring import Services, build_services
from tests.conftest import CHAT, WS, actor, count

OWNER = actor("owner")
ADMIN = actor("root")


def test_new_york_nine_am_is_14_utc_in_winter_and_13_utc_in_summer() -> None:
    daily = schedules.parse_schedule("daily 09:00")
    winter = schedules.next_fire(daily, "America/New_York", datetime(2026, 1, 15, 12, tzinfo=UTC))
    summer = schedules.next_fire(daily, "America/New_York", datetime(2026, 7, 15, 12, tzinfo=UTC))
    assert winter == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)


def test_weekdays_and_weekly_schedules_skip_the_right_days() -> None:
    friday_evening = datetime(2026, 1, 9, 18, tzinfo=UTC)  # a Friday
    weekdays = schedules.parse_schedule("weekdays 17:30")
    assert schedules.next_fire(weekdays, "UTC", friday_evening) == datetime(
        2026, 1, 12, 17, 30, tzinfo=UTC
    )
    weekly = schedules.parse_schedule("weekly wed 09:00")
    assert schedules.next_fire(weekly, "Europe/Paris", friday_evening) == datetime(
        2026, 1, 14, 8, 0, tzinfo=UTC
    )
    with pytest.raises(UsageError):
        schedules.parse_schedule("hourly")


async def _subscribe(store: SqliteStore, channel: str, created: datetime) -> Subscription:
    sub = Subscription(WS, channel, "daily 09:00", "UTC", "root", created)
    await store.subscriptions.put(sub)
    return sub


async def test_missed_slot_is_sent_on_start_when_under_an_hour_late_never_twice(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    await _subscribe(store, "general", clock.now() - timedelta(days=2))
    clock.set(datetime(2026, 1, 6, 9, 40, tzinfo=UTC))  # down over 09:00, back 40 min late
    assert await summaries.catch_up(services, clock.now()) == 1
    assert await summaries.catch_up(services, clock.now()) == 0
    clock.advance(timedelta(minutes=5))
    assert await summaries.catch_up(services, clock.now()) == 0, "a restart does not resend"
    assert await count(store, "outbox", "dedupe_key LIKE 'summary:%'") == 1


async def test_missed_slot_more_than_an_hour_late_is_skipped(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    await _subscribe(store, "general", clock.now() - timedelta(days=2))
    clock.set(datetime(2026, 1, 6, 10, 0, 1, tzinfo=UTC))
    assert await summaries.catch_up(services, clock.now()) == 0
    assert await count(store, "outbox", "dedupe_key LIKE 'summary:%'") == 0
    clock.set(datetime(2026, 1, 7, 9, 0, tzinfo=UTC))  # the next slot goes out as usual
    assert await summaries.run_subscription(services, WS, "general", clock.now())


async def test_two_processes_firing_the_same_slot_send_one_summary(
    db_url: str, store: SqliteStore, clock: ManualClock
) -> None:
    second_store = open_store(db_url)
    await second_store.open()
    try:
        one = build_services(store, clock=clock, config=ServiceConfig())
        two = build_services(second_store, clock=clock, config=ServiceConfig())
        await _subscribe(store, "general", clock.now() - timedelta(days=1))
        clock.set(datetime(2026, 1, 6, 9, 0, 0, 300, tzinfo=UTC))
        fired = await asyncio.gather(
            *(summaries.run_subscription(s, WS, "general", clock.now()) for s in (one, two) * 3)
        )
        assert sum(fired) == 1
        assert await count(store, "outbox", "dedupe_key LIKE 'summary:%'") == 1
        assert await count(store, "job_runs", "job LIKE 'summary:%'") == 1
    finally:
        await second_store.close()


async def test_summary_counts_what_happened_since_the_last_one(
    services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    await _subscribe(store, "general", clock.now())
    clock.advance(60)
    done = await services.sessions.start(OWNER, CHAT, "shipped")
    await services.sessions.complete(OWNER, str(done.ref))
    broke = await services.sessions.start(OWNER, CHAT, "broke")
    await services.sessions.fail(OWNER, str(broke.ref), reason="disk full")
    waiting = await services.sessions.start(OWNER, CHAT, "waiting")
    await services.plans.submit(OWNER, str(waiting.ref), ["a"])
    await services.sessions.start(OWNER, CHAT, "quiet")
    clock.set(datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    assert await summaries.run_subscription(services, WS, "general", clock.now())
    (row,) = [r for r in await _outbox(store) if r["dedupe_key"].startswith("summary:")]
    text = row["payload"]
    assert '"Started","value":"4"' in text and '"Completed","value":"1"' in text
    assert '"Failed","value":"1"' in text
    assert "#3 waiting — pending 23h 59m" in text and "#4 quiet" in text


async def _outbox(store: SqliteStore) -> list[dict[str, str]]:
    return [dict(r) for r in await store.engine.fetchall("SELECT * FROM outbox")]


async def test_summary_commands_schedule_in_a_timezone_and_need_an_admin(
    runner: CommandRunner, services: Services, store: SqliteStore, clock: ManualClock
) -> None:
    refused = await runner.run(OWNER, CHAT, "summary daily 09:00")
    assert refused is not None and "You can't" in refused.view.title
    reply = await runner.run(ADMIN, CHAT, "summary daily 09:00 tz:America/New_York")
    assert reply is not None and not reply.ephemeral
    assert "Next one at 2026-01-05 09:00 America/New_York" in reply.view.plain_text()
    (sub,) = await store.subscriptions.every(WS)
    assert (sub.schedule, sub.timezone) == ("daily 09:00", "America/New_York")
    now_reply = await runner.run(ADMIN, CHAT, "summary now")
    assert now_reply is not None and now_reply.view.kind == "summary"
    off = await runner.run(ADMIN, CHAT, "summary off")
    assert off is not None and "turned off" in off.view.title
    assert await store.subscriptions.every(WS) == []
    with pytest.raises(Forbidden):
        await summaries.unsubscribe(services, OWNER, "general")


async def test_bare_summary_shows_the_schedule_and_posts_nothing(
    runner: CommandRunner, store: SqliteStore
) -> None:
    unscheduled = await runner.run(OWNER, CHAT, "summary")
    assert unscheduled is not None and unscheduled.ephemeral
    assert "are not scheduled" in unscheduled.view.title
    await runner.run(ADMIN, CHAT, "summary weekdays 17:30 tz:Europe/Paris")
    outbox_before = len(await _outbox(store))
    shown = await runner.run(OWNER, CHAT, "summary")
    assert shown is not None and shown.ephemeral and shown.view.kind != "summary"
    assert "weekdays 17:30 (Europe/Paris)" in shown.view.title
    assert "Next one at 2026-01-05 17:30 Europe/Paris" in shown.view.plain_text()
    assert len(await _outbox(store)) == outbox_before


async def test_summary_now_by_a_non_admin_is_refused(runner: CommandRunner) -> None:
    refused = await runner.run(OWNER, CHAT, "summary now")
    assert refused is not None and refused.view.kind == "error"
    assert "You can't" in refused.view.title
