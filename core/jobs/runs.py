"""Job slots: which run of a job a moment belongs to, and who claims it."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from core.records.jobs import ClaimSlot
from core.store.jobs import Jobs

EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: slots align to it
OWNER = f"{socket.gethostname()}:{os.getpid()}"

SWEEP = "sweep"
CLEANUP = "cleanup"
MAINTENANCE = "maintenance"


def floor_slot(now: datetime, every: timedelta, *, offset: timedelta = timedelta(0)) -> datetime:
    """The latest `EPOCH + offset + k·every` at or before `now`: the slot `now` falls in.

    Every process computes the same slot for the same moment, so two replicas firing the same
    schedule claim the same (job, slot) row and only one of them runs it.
    """
    step = every.total_seconds()
    if step <= 0:
        raise ValueError("a job interval must be positive")
    start = EPOCH + offset
    count = (now - start).total_seconds() // step
    return start + timedelta(seconds=count * step)


async def claim(jobs: Jobs, job: str, slot: datetime, *, owner: str, now: datetime) -> bool:
    """Claim one run of a job; False when another process (or an earlier run) has it."""
    return await jobs.apply_claimed([ClaimSlot(job, slot, owner, now)], [])
