"""Activity is coalesced, but never for long enough that a session in use looks idle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.activity import coalescing_window
from core.clock import ManualClock
from core.jobs import sweep
from core.models import EventType, Session, Status, WorkspaceSettings
from core.services.config import ServiceConfig
from core.store.store import Store
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor

OWNER = actor("owner")
SECOND = timedelta(seconds=1)
SHORT = WorkspaceSettings(abandon_after=4 * SECOND, abandon_warning_before=2 * SECOND)


def test_the_window_is_a_tenth_of_abandon_after_at_most() -> None:
    thirty = timedelta(seconds=30)
    assert coalescing_window(thirty, timedelta(hours=24)) == thirty
    assert coalescing_window(thirty, 4 * SECOND) == timedelta(milliseconds=400)
    assert coalescing_window(thirty, timedelta(minutes=5)) == thirty
    assert coalescing_window(thirty, timedelta(minutes=2)) == 12 * SECOND


async def _note(services: Services, session: Session, n: int) -> None:
    await services.history.append(OWNER, str(session.ref), f"note {n}")


async def _record(services: Services, session: Session, n: int) -> None:
    await services.progress.record_event(OWNER, str(session.ref), EventType.TOOL_CALL, {"n": n})


async def _heartbeat(services: Services, session: Session, n: int) -> None:
    await services.progress.heartbeat(OWNER, str(session.ref))


async def _titles(store: Store, session: Session) -> list[str]:
    return [row.payload["title"] for row in await store.outbox.rows(session_id=session.id)]


@pytest.mark.parametrize("activity", [_note, _record, _heartbeat], ids=lambda f: f.__name__[1:])
async def test_a_session_noted_every_few_seconds_is_not_abandoned(
    store: Store, clock: ManualClock, activity: object
) -> None:
    services = build_services(store, clock=clock, config=ServiceConfig(defaults=SHORT))
    busy = await services.sessions.start(OWNER, CHAT, "busy")
    idle = await services.sessions.start(OWNER, CHAT, "idle")
    for n in range(8):  # 12 s of work, three times abandon_after
        clock.advance(timedelta(milliseconds=1500))
        await activity(services, busy, n)  # type: ignore[operator]
        await sweep.sweep_due(services, clock.now())
    assert (await store.sessions.by_id(busy.id)).status is Status.ACTIVE  # type: ignore[union-attr]
    assert not [t for t in await _titles(store, busy) if "abandon" in t]
    assert (await store.sessions.by_id(idle.id)).status is Status.ABANDONED  # type: ignore[union-attr]
    titles = await _titles(store, idle)
    assert any("will be abandoned" in t for t in titles), "the idle one was warned first"


async def test_activity_is_still_coalesced_with_a_long_abandon_after(
    store: Store, clock: ManualClock
) -> None:
    services = build_services(store, clock=clock)  # abandon_after 24 h: a 30 s window
    session = await services.sessions.start(OWNER, CHAT, "chatty")
    clock.advance(timedelta(minutes=1))
    await _note(services, session, 1)
    first = await store.sessions.by_id(session.id)
    clock.advance(10 * SECOND)
    await _note(services, session, 2)
    second = await store.sessions.by_id(session.id)
    assert first is not None and second is not None
    assert second.last_activity_at == first.last_activity_at, "one write per 30 s"
