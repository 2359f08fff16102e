"""The APScheduler wiring: triggers in timezones, jobs following subscriptions, stats visibility."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import JobScheduler, summary_trigger
from core.clock import ManualClock
from core.jobs import schedules
from core.records.jobs import Subscription
from core.runner import CommandRunner
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, WS, actor


def test_cron_trigger_fires_nine_new_york_at_14_utc_in_winter_13_in_summer() -> None:
    trigger = summary_trigger(schedules.parse_schedule("daily 09:00"), "America/New_York")
    winter = trigger.get_next_fire_time(None, datetime(2026, 1, 15, 12, tzinfo=UTC))
    summer = trigger.get_next_fire_time(None, datetime(2026, 7, 15, 12, tzinfo=UTC))
    assert winter.astimezone(UTC) == datetime(2026, 1, 15, 14, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2026, 7, 15, 13, tzinfo=UTC)


def _scheduler(services: Services, clock: ManualClock, tmp_path: Path) -> JobScheduler:
    return JobScheduler(
        services,
        clock=clock,
        sweep_every=timedelta(seconds=60),
        archive_dir=tmp_path / "archive",
        owner="test",
    )


async def test_jobs_are_scheduled_and_summary_jobs_follow_subscriptions(
    services: Services, store: SqliteStore, clock: ManualClock, tmp_path: Path
) -> None:
    await store.subscriptions.put(
        Subscription(WS, "general", "weekdays 17:30", "Europe/Paris", "root", clock.now())
    )
    scheduler = _scheduler(services, clock, tmp_path)
    await scheduler.start()
    try:
        assert scheduler.running
        ids = {job.id for job in scheduler.scheduler.get_jobs()} - {"sweep:start"}
        assert ids == {"sweep", "cleanup", "maintenance", f"summary:{WS}:general"}
        job = scheduler.scheduler.get_job(f"summary:{WS}:general")
        assert job.coalesce and job.misfire_grace_time == 3600
        await store.subscriptions.put(
            Subscription(WS, "ops", "daily 08:00", "UTC", "root", clock.now())
        )
        await store.subscriptions.remove(WS, "general")
        await scheduler.sync_summaries()
        ids = {job.id for job in scheduler.scheduler.get_jobs()} - {"sweep:start"}
        assert ids == {"sweep", "cleanup", "maintenance", f"summary:{WS}:ops"}
    finally:
        await scheduler.stop()
    assert not scheduler.running


async def test_sweep_job_abandons_and_stats_show_each_jobs_last_run_and_lag(
    runner: CommandRunner,
    services: Services,
    store: SqliteStore,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    session = await services.sessions.start(actor("owner"), CHAT, "left alone")
    clock.advance(timedelta(days=1, seconds=15))
    scheduler = _scheduler(services, clock, tmp_path)
    report = await scheduler.sweep_now()
    assert report is not None and report.abandoned == 1
    assert await scheduler.sweep_now() is None, "the same minute's slot runs once"
    await scheduler.maintenance_now()
    reply = await runner.run(actor("owner"), CHAT, "stats")
    assert reply is not None
    text = reply.view.plain_text()
    assert "Job sweep: last run 0s ago, lag 15s, done" in text
    assert "Job maintenance: last run 0s ago" in text
    assert "Outbox: 2 pending, 0 dead" in text  # the card and the abandoned notice
    assert (await store.sessions.by_id(session.id)).status.value == "abandoned"  # type: ignore[union-attr]


async def test_stop_cancels_a_job_run_still_going_after_its_grace(
    services: Services,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("bot.scheduler.STOP_GRACE", 0.2)
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def hangs() -> None:  # a run waiting on something that never answers
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = _scheduler(services, clock, tmp_path)
    await scheduler.start()
    try:
        scheduler.scheduler.add_job(scheduler._guard("hangs", hangs), id="hangs")
        await asyncio.wait_for(running.wait(), timeout=30)
    finally:
        await asyncio.wait_for(scheduler.stop(), timeout=30)  # a bound, far above the grace
    assert cancelled.is_set() and not scheduler.running
    # a run cut short by a clean stop is no failure: no error, no traceback in the log
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("hangs" in r.getMessage() and "stop" in r.getMessage() for r in caplog.records)
