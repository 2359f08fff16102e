"""APScheduler wiring (§9): when each core job runs. What a job does lives in core/jobs.

An `AsyncIOScheduler` on the bot's own event loop runs:
- the sweep every `SESSIONBOT_SWEEP_INTERVAL`, aligned to multiples of the interval so every
  replica computes the same slot (one of them claims it), and once right at start;
- cleanup and maintenance daily (UTC);
- one cron job per channel subscription at its schedule, in its timezone, re-read from the
  database after every sweep (so `/session summary` changes in any replica take effect);
and on start sends summaries missed while the bot was down (if less than an hour late).
Misfires are coalesced: a late or repeated fire runs once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import Clock
from core.jobs import cleanup, maintenance, runs, schedules, summaries, sweep
from core.jobs.maintenance import ContextPurge, no_context_purge
from core.records.jobs import Subscription
from core.wiring import Services

_log = logging.getLogger(__name__)

DAY = timedelta(days=1)
CLEANUP_AT = timedelta(hours=3, minutes=30)
MAINTENANCE_AT = timedelta(hours=4, minutes=15)
SUMMARY_GRACE_SECONDS = 3600
STOP_GRACE = 5.0  # seconds the job runs in progress get to finish at shutdown


class JobObserver(Protocol):
    """Told of every job run and how late it started (bot/metrics.py implements it)."""

    def job_ran(self, job: str, seconds: float, *, failed: bool) -> None: ...
    def job_late(self, job: str, seconds: float) -> None: ...


class JobScheduler:
    """Schedules the core jobs on the running event loop."""

    def __init__(
        self,
        services: Services,
        *,
        clock: Clock,
        sweep_every: timedelta,
        archive_dir: str | Path,
        owner: str = runs.OWNER,
        purge_context: ContextPurge = no_context_purge,
        observer: JobObserver | None = None,
    ) -> None:
        self.services = services
        self.observer = observer
        self.clock = clock
        self.sweep_every = sweep_every
        self.archive_dir = archive_dir
        self.owner = owner
        self.purge_context = purge_context
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self._summaries: dict[str, tuple[str, str]] = {}  # job id -> (schedule, timezone)
        self.errors = 0
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._cut_short: set[asyncio.Task[Any]] = set()  # runs `stop` cancelled

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    async def start(self) -> None:
        """Start on the current loop, schedule every job, then catch up missed summaries."""
        self.scheduler.start()
        if self.observer is not None:
            self.scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        every = self.sweep_every.total_seconds()
        self.scheduler.add_job(
            self._guard("sweep", self.sweep_now),
            IntervalTrigger(seconds=every, start_date=runs.EPOCH, timezone=UTC),
            id="sweep",
            name="sweep",
            misfire_grace_time=max(1, int(every)),
        )
        self.scheduler.add_job(self._guard("sweep", self.sweep_now), id="sweep:start", name="sweep")
        self.scheduler.add_job(
            self._guard("cleanup", self.cleanup_now),
            CronTrigger(hour=3, minute=30, timezone=UTC),
            id="cleanup",
            name="cleanup",
            misfire_grace_time=6 * 3600,
        )
        self.scheduler.add_job(
            self._guard("maintenance", self.maintenance_now),
            CronTrigger(hour=4, minute=15, timezone=UTC),
            id="maintenance",
            name="maintenance",
            misfire_grace_time=6 * 3600,
        )
        await self.sync_summaries()
        sent = await summaries.catch_up(self.services, self.clock.now(), owner=self.owner)
        if sent:
            _log.info("sent %d summaries missed while the bot was down", sent)

    async def stop(self) -> None:
        """Stop firing, let runs in progress finish (bounded), then shut down.

        A run still going after `STOP_GRACE` seconds is cancelled: each of its writes is its own
        transaction and every job picks up where it was on its next run.
        """
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        running = set(self._in_flight)
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE)
            if late:
                _log.warning("cancelling %d scheduled job(s) still running", len(late))
                for task in late:
                    self._cut_short.add(task)
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on its next loop turn

    # -- the jobs ----------------------------------------------------------------------------

    async def sweep_now(self) -> sweep.SweepReport | None:
        report = await sweep.run(
            self.services, self.clock.now(), every=self.sweep_every, owner=self.owner
        )
        await self.sync_summaries()
        return report

    async def cleanup_now(self) -> cleanup.CleanupReport | None:
        now = self.clock.now()
        return await cleanup.run(
            self.services,
            now,
            archive_dir=self.archive_dir,
            slot=runs.floor_slot(now, DAY, offset=CLEANUP_AT),
            owner=self.owner,
        )

    async def maintenance_now(self) -> maintenance.MaintenanceReport | None:
        now = self.clock.now()
        return await maintenance.run(
            self.services,
            now,
            slot=runs.floor_slot(now, DAY, offset=MAINTENANCE_AT),
            owner=self.owner,
            purge_context=self.purge_context,
        )

    async def summary_now(self, workspace: str, channel_id: str) -> bool:
        return await summaries.run_subscription(
            self.services, workspace, channel_id, self.clock.now(), owner=self.owner
        )

    # -- summary jobs follow the subscriptions table -----------------------------------------

    async def sync_summaries(self) -> None:
        """Add, reschedule or remove one cron job per channel subscription."""
        wanted = {sub.job: sub for sub in await self.services.store.subscriptions.every()}
        for job_id in set(self._summaries) - set(wanted):
            self.scheduler.remove_job(job_id)
            del self._summaries[job_id]
        for job_id, sub in wanted.items():
            if self._summaries.get(job_id) != (sub.schedule, sub.timezone):
                self._schedule_summary(sub)

    def _schedule_summary(self, sub: Subscription) -> None:
        try:
            schedule = schedules.parse_schedule(sub.schedule)
            self.scheduler.add_job(
                self._guard(sub.job, lambda: self.summary_now(sub.workspace, sub.channel_id)),
                summary_trigger(schedule, sub.timezone),
                id=sub.job,
                name=sub.job,
                replace_existing=True,
                misfire_grace_time=SUMMARY_GRACE_SECONDS,
            )
        except Exception:
            _log.exception("could not schedule %s (%s, %s)", sub.job, sub.schedule, sub.timezone)
            return
        self._summaries[sub.job] = (sub.schedule, sub.timezone)

    def _guard(self, name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """Log a failed run with our logger and keep the schedule going."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)
            started, failed = time.perf_counter(), False
            try:
                await job()
            except asyncio.CancelledError:
                if task not in self._cut_short:
                    raise
                # cancelled by `stop` itself: not a failure (APScheduler would log it as one)
                task.uncancel()
                _log.warning("job %s cut short by the stop; its next run picks it up", name)
            except Exception:
                failed = True
                self.errors += 1
                _log.exception("job %s failed", name)
            finally:
                self._cut_short.discard(task)
                self._in_flight.discard(task)
                if self.observer is not None:
                    self.observer.job_ran(name, time.perf_counter() - started, failed=failed)

        return run

    def _submitted(self, event: JobSubmissionEvent) -> None:
        """APScheduler fires jobs on the real clock: lag is real time past the scheduled time."""
        if self.observer is not None and event.scheduled_run_times:
            late = datetime.now(UTC) - max(event.scheduled_run_times)
            self.observer.job_late(event.job_id, late.total_seconds())


def summary_trigger(schedule: schedules.Schedule, timezone: str) -> CronTrigger:
    """The cron trigger of a summary schedule in its IANA timezone."""
    return CronTrigger(
        day_of_week=schedule.cron_days,
        hour=schedule.hour,
        minute=schedule.minute,
        timezone=ZoneInfo(timezone),
    )
