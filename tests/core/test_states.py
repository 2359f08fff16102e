"""Every (status, action) pair of the §2 table, through the service on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Conflict, InvalidTransition
from core.models import Decision, EventType, Role, Session, Status
from core.states import Action, next_status
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")
ALL = list(Status)

# The table of SPEC §2, written out independently of core/states.py.
EXPECTED: dict[str, dict[str, str]] = {
    "pause": {"active": "paused"},
    "resume": {"paused": "active", "abandoned": "active"},
    "complete": dict.fromkeys(("active", "paused", "pending"), "completed"),
    "fail": dict.fromkeys(("active", "paused", "pending"), "failed"),
    "cancel": dict.fromkeys(("active", "paused", "pending"), "cancelled"),
    "archive": dict.fromkeys(
        ("completed", "failed", "cancelled", "timed_out", "abandoned"), "archived"
    ),
    "extend": {"active": "active", "paused": "paused", "pending": "pending", "timed_out": "active"},
    "submit_plan": dict.fromkeys(("active", "paused", "pending"), "pending"),
    "abandon": dict.fromkeys(("active", "paused", "pending"), "abandoned"),
    "iterate": {"active": "active"},
}
EVENTS = {
    "pause": EventType.PAUSED,
    "resume": EventType.RESUMED,
    "complete": EventType.COMPLETED,
    "fail": EventType.FAILED,
    "cancel": EventType.CANCELLED,
    "archive": EventType.ARCHIVED,
    "extend": EventType.EXTENDED,
    "submit_plan": EventType.PLAN_SUBMITTED,
    "abandon": EventType.ABANDONED,
    "iterate": EventType.ITERATION,
}


def _pass_deadline(services: Services) -> None:
    """Move the injected clock past every abandon deadline (the sweep only acts on due ones)."""
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=30))


async def session_in(services: Services, status: Status) -> Session:
    """A fresh session brought to `status` through legal moves."""
    s = await services.sessions.start(OWNER, CHAT, f"in {status}", max_iterations=5)
    ref = str(s.ref)
    if status is Status.PAUSED:
        await services.sessions.pause(OWNER, ref)
    elif status is Status.PENDING:
        await services.plans.submit(OWNER, ref, ["step"])
    elif status is Status.COMPLETED:
        await services.sessions.complete(OWNER, ref)
    elif status is Status.FAILED:
        await services.sessions.fail(OWNER, ref, reason="broke")
    elif status is Status.CANCELLED:
        await services.sessions.cancel(OWNER, ref)
    elif status is Status.TIMED_OUT:
        await services.progress.record_iteration(OWNER, ref, count=5)
    elif status is Status.ABANDONED:
        _pass_deadline(services)
        await services.sessions.abandon(s.id)
    elif status is Status.ARCHIVED:
        await services.sessions.complete(OWNER, ref)
        await services.sessions.archive(OWNER, ref)
    found = await services.store.sessions.by_id(s.id)
    assert found is not None and found.status is status
    return found


async def act(services: Services, action: str, session: Session) -> None:
    ref = str(session.ref)
    calls = {
        "pause": lambda: services.sessions.pause(OWNER, ref),
        "resume": lambda: services.sessions.resume(OWNER, ref),
        "complete": lambda: services.sessions.complete(OWNER, ref),
        "fail": lambda: services.sessions.fail(OWNER, ref, reason="x"),
        "cancel": lambda: services.sessions.cancel(OWNER, ref),
        "archive": lambda: services.sessions.archive(OWNER, ref),
        "extend": lambda: services.sessions.extend(OWNER, ref, timedelta(hours=2)),
        "submit_plan": lambda: services.plans.submit(OWNER, ref, ["a", "b"]),
        "abandon": lambda: _pass_deadline(services) or services.sessions.abandon(session.id),
        "iterate": lambda: services.progress.record_iteration(OWNER, ref),
    }
    await calls[action]()


@pytest.mark.parametrize("status", ALL, ids=str)
@pytest.mark.parametrize("action", sorted(EXPECTED))
async def test_every_status_action_pair(
    services: Services, store: SqliteStore, action: str, status: Status
) -> None:
    session = await session_in(services, status)
    events_before = await count(store, "events", "session_id = ?", session.id)
    expected = EXPECTED[action].get(status.value)
    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            await act(services, action, session)
        assert caught.value.status == status.value
        after = await store.sessions.by_id(session.id)
        assert after == session, "a refused action changed the session"
        assert await count(store, "events", "session_id = ?", session.id) == events_before
        return
    await act(services, action, session)
    after = await store.sessions.by_id(session.id)
    assert after is not None and after.status.value == expected
    assert after.version > session.version
    latest = (await store.events.newest(session.id, limit=1))[0]
    assert latest.type is EVENTS[action]


@pytest.mark.parametrize("status", ALL, ids=str)
def test_decisions_only_from_pending(status: Status) -> None:
    for action, target in ((Action.APPROVE, "active"), (Action.REJECT, "paused")):
        if status is Status.PENDING:
            assert next_status(status, action, ref=1).value == target
        else:
            with pytest.raises(InvalidTransition):
                next_status(status, action, ref=1)


@pytest.mark.parametrize(
    "end", ["complete", "fail", "cancel", "abandon"], ids=lambda e: f"after-{e}"
)
async def test_pending_plan_of_an_ended_session_cannot_be_decided(
    services: Services, store: SqliteStore, end: str
) -> None:
    session = await session_in(services, Status.PENDING)
    await act(services, end, session)
    await services.members.share(
        actor("root", admin=True), str(session.ref), "amy", role=Role.APPROVER
    )
    before = await store.sessions.by_id(session.id)
    with pytest.raises(InvalidTransition):
        await services.plans.decide(actor("amy"), Decision.APPROVE, ref=str(session.ref))
    assert await store.sessions.by_id(session.id) == before


async def test_approve_moves_pending_to_active_and_reject_to_paused(
    services: Services, store: SqliteStore
) -> None:
    one = await session_in(services, Status.PENDING)
    two = await session_in(services, Status.PENDING)
    await services.plans.decide(OWNER, Decision.APPROVE, ref=str(one.ref))
    await services.plans.decide(OWNER, Decision.REJECT, ref=str(two.ref), reason="too risky")
    approved = await store.sessions.by_id(one.id)
    rejected = await store.sessions.by_id(two.id)
    assert approved is not None and approved.status is Status.ACTIVE
    assert rejected is not None and rejected.status is Status.PAUSED
    plan = await store.plans.current(two.id)
    assert plan is not None and plan.decision_reason == "too risky"


async def test_expiry_pauses_and_rerequest_makes_it_pending_again(
    services: Services, store: SqliteStore
) -> None:
    session = await session_in(services, Status.PENDING)
    plan = await store.plans.current(session.id)
    assert plan is not None
    await services.plans.expire(plan.id)
    paused = await store.sessions.by_id(session.id)
    assert paused is not None and paused.status is Status.PAUSED
    again = (await services.plans.rerequest(OWNER, plan.id)).plan
    assert again.version == plan.version + 1 and again.items[0].title == "step"
    pending = await store.sessions.by_id(session.id)
    assert pending is not None and pending.status is Status.PENDING


async def test_reaching_max_iterations_times_out_and_extend_reopens(
    services: Services, store: SqliteStore
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "agent run", max_iterations=3)
    for _ in range(2):
        await services.progress.record_iteration(OWNER, str(session.ref))
    timed = await services.progress.record_iteration(OWNER, str(session.ref))
    assert timed.status is Status.TIMED_OUT and timed.iterations == 3
    types = [e.type for e in await store.events.newest(session.id, limit=2)]
    assert types == [EventType.TIMED_OUT, EventType.ITERATION]
    reopened = await services.sessions.extend(OWNER, str(session.ref), timedelta(hours=1))
    assert reopened.status is Status.ACTIVE and reopened.max_iterations > 3
    assert (
        await services.progress.record_iteration(OWNER, str(session.ref))
    ).status is Status.ACTIVE


async def test_invalid_transition_names_status_and_allowed_actions(services: Services) -> None:
    session = await session_in(services, Status.COMPLETED)
    with pytest.raises(InvalidTransition) as caught:
        await services.sessions.pause(OWNER, str(session.ref))
    assert "completed" in caught.value.message and "archive" in caught.value.message


async def test_abandon_is_refused_before_the_deadline(
    services: Services, store: SqliteStore
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "still fresh")
    with pytest.raises(Conflict):
        await services.sessions.abandon(session.id)
    after = await store.sessions.by_id(session.id)
    assert after is not None and after.status is Status.ACTIVE
