"""Daily maintenance (§9): WAL checkpoint, PRAGMA optimize, and purging what has expired."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.jobs import runs
from core.wiring import Services

_log = logging.getLogger(__name__)

INBOUND_KEEP = timedelta(hours=24)
JOB_RUNS_KEEP = timedelta(days=30)

# Purges expired context keys and returns how many it removed. The history feature owns
# context TTLs: the bot passes its purge function here (see bot/scheduler.py).
ContextPurge = Callable[[Services, datetime], Awaitable[int]]


async def no_context_purge(services: Services, now: datetime) -> int:
    """Placeholder until the history feature provides the real purge."""
    return 0


@dataclass(slots=True)
class MaintenanceReport:
    inbound_purged: int = 0
    job_runs_purged: int = 0
    context_keys_purged: int = 0


async def run(
    services: Services,
    now: datetime,
    *,
    slot: datetime | None = None,
    owner: str = runs.OWNER,
    purge_context: ContextPurge = no_context_purge,
) -> MaintenanceReport | None:
    if slot is not None and not await runs.claim(
        services.store.jobs, runs.MAINTENANCE, slot, owner=owner, now=now
    ):
        return None
    store = services.store
    report = MaintenanceReport(
        inbound_purged=await store.inbound.purge(now - INBOUND_KEEP),
        job_runs_purged=await store.jobs.purge_runs(now - JOB_RUNS_KEEP),
        context_keys_purged=await purge_context(services, now),
    )
    await store.checkpoint()
    if slot is not None:
        await store.jobs.finish(runs.MAINTENANCE, slot, at=services.clock.now())
    _log.info("maintenance: %s", report)
    return report
