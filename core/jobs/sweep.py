"""The sweep (§9): everything that falls due with time, as one function of (service, now).

Each due item is acted on in its own unit of work whose first write is its claim — a
compare-and-set on the session or plan (status, version), or inserting/updating a reminder
row — so a second process sweeping at the same moment finds nothing left to do, and one bad
row is logged and skipped without stopping the rest. Items run concurrently (bounded) so the
store's group commit can share one fsync between many of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TypeVar

from core.errors import Conflict, InvalidTransition, NotFound
from core.jobs import ladder, reminders, runs
from core.models import EventType, Session
from core.records.jobs import DueSession
from core.records.requests import Request
from core.services.sessions import system_actor
from core.states import Action
from core.wiring import Services

_log = logging.getLogger(__name__)

T = TypeVar("T")

BATCH = 1000
CONCURRENCY = 64
MAX_ROUNDS = 100


@dataclass(slots=True)
class SweepReport:
    expired: int = 0
    requests_expired: int = 0
    request_reminders: int = 0
    abandoned: int = 0
    warned: int = 0
    pending_reminders: int = 0
    paused_reminders: int = 0
    user_reminders: int = 0
    archived: int = 0
    failed: int = 0

    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "failed")


async def run(
    services: Services, now: datetime, *, every: timedelta, owner: str = runs.OWNER
) -> SweepReport | None:
    """The scheduled sweep: claim this interval's slot, then act on what is due.

    None when another process (or an earlier run) already swept this slot.
    """
    slot = runs.floor_slot(now, every)
    if not await runs.claim(services.store.jobs, runs.SWEEP, slot, owner=owner, now=now):
        return None
    report = await sweep_due(services, now)
    await services.store.jobs.finish(runs.SWEEP, slot, at=services.clock.now())
    if report.total() or report.failed:
        _log.info("sweep %s: %s", slot.isoformat(), report)
    return report


async def sweep_due(services: Services, now: datetime) -> SweepReport:
    """Act on every due item (no slot claim: per-item claims keep it exactly-once)."""
    store, report = services.store, SweepReport()
    report.expired = await _drain(
        report, lambda n: store.jobs.due_expiries(now, limit=n), lambda p: _expire(services, p)
    )
    report.requests_expired = await _drain(
        report,
        lambda n: store.requests.due(now, limit=n),
        lambda r: _expire_request(services, r, now),
    )
    report.abandoned = await _drain(
        report, lambda n: store.jobs.due_abandon(now, limit=n), lambda s: _abandon(services, s, now)
    )
    for workspace in await store.workspaces.names():
        await _sweep_workspace(services, workspace, now, report)
    report.user_reminders = await _drain(
        report,
        lambda n: store.jobs.due_reminders(now, limit=n),
        lambda r: reminders.send_user(services, r, now),
    )
    return report


async def _sweep_workspace(
    services: Services, workspace: str, now: datetime, report: SweepReport
) -> None:
    store = services.store
    settings = await services.settings.get(workspace)
    if settings.abandon_warning_before < settings.abandon_after:
        horizon = now + settings.abandon_warning_before
        report.warned += await _drain(
            report,
            lambda n: store.jobs.due_warnings(workspace, now=now, horizon=horizon, limit=n),
            lambda d: reminders.send_warning(services, d, now),
        )
    report.pending_reminders += await _drain(
        report,
        lambda n: store.jobs.due_pending_reminders(
            workspace, now=now, every=settings.remind_pending_after, limit=n
        ),
        lambda d: reminders.send_pending(services, d, now),
    )
    if settings.remind_requests == "on":
        report.request_reminders += await _drain(
            report,
            lambda n: store.requests.on_ladder(workspace, limit=n),
            lambda rung: ladder.remind(services, rung, now),
        )
    report.paused_reminders += await _drain(
        report,
        lambda n: store.jobs.due_paused_reminders(
            workspace, before=now - settings.remind_paused_after, limit=n
        ),
        lambda d: _paused(services, d, now),
    )
    report.archived += await _drain(
        report,
        lambda n: store.jobs.due_archive(workspace, before=now - settings.archive_after, limit=n),
        lambda s: _archive(services, s),
    )


async def _drain(
    report: SweepReport,
    fetch: Callable[[int], Awaitable[Sequence[T]]],
    act: Callable[[T], Awaitable[bool]],
) -> int:
    """Fetch due items in batches and act on each until none are left (or none could be)."""
    done = 0
    for _ in range(MAX_ROUNDS):
        items = await fetch(BATCH)
        acted = await _each(report, items, act)
        done += acted
        if len(items) < BATCH or acted == 0:
            break
    return done


async def _each(
    report: SweepReport, items: Sequence[T], act: Callable[[T], Awaitable[bool]]
) -> int:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> bool:
        async with gate:
            try:
                return await act(item)
            except (Conflict, InvalidTransition, NotFound):
                return False  # someone else acted on it first
            except Exception:
                report.failed += 1
                _log.exception("sweep item failed: %r", _describe(item))
                return False

    return sum(await asyncio.gather(*(one(item) for item in items)))


def _describe(item: object) -> str:
    if isinstance(item, Session):
        return f"session {item.id}"
    if isinstance(item, DueSession):
        return f"{item.key}"
    return str(getattr(item, "id", item))


async def _expire(services: Services, plan_id: str) -> bool:
    await services.plans.expire(plan_id)
    return True


async def _expire_request(services: Services, request: Request, now: datetime) -> bool:
    await services.requests.expire(request.id, now)
    return True


async def _abandon(services: Services, session: Session, now: datetime) -> bool:
    if session.abandon_at is None or session.abandon_at > now:
        return False
    actor = system_actor(session.workspace)
    await services.sessions.transition(actor, session, Action.ABANDON, EventType.ABANDONED)
    return True


async def _archive(services: Services, session: Session) -> bool:
    actor = system_actor(session.workspace)
    await services.sessions.transition(actor, session, Action.ARCHIVE, EventType.ARCHIVED)
    return True


async def _paused(services: Services, due: DueSession, now: datetime) -> bool:
    return await reminders.send_paused(services, due, now)
