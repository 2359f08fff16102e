"""`store.apply(unit)`: every op of a unit takes effect, or none does; results in op order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.errors import Conflict, StoreError
from core.models import Member, Role
from core.store import ops
from core.store.store import Store
from tests.conftest import WS
from tests.store.contract.records import (
    NOW,
    event,
    new_session,
    outbox_row,
    plan_record,
    session_record,
)


async def test_results_come_in_op_order(store: Store) -> None:
    session = await new_session(store)
    results = await store.apply(
        [
            ops.AddEvent(event(session.id)),
            ops.Enqueue(outbox_row(1)),
            ops.UpdateSession(session.id, 1, {"title": "t"}),
            ops.Enqueue(outbox_row(1)),
            ops.AllocateRef(WS),
            ops.PutMember(session.id, Member("ivan", Role.VIEWER, "olga", NOW)),
        ]
    )
    assert results == [1, True, 2, False, 2, None]
    assert await store.apply([]) == []


async def test_a_failing_op_leaves_nothing_of_the_ops_before_it(store: Store) -> None:
    session = await new_session(store)
    (ref,) = await store.apply([ops.AllocateRef(WS)])
    later = NOW + timedelta(hours=1)
    with pytest.raises(Conflict):
        await store.apply(
            [
                ops.AllocateRef(WS),
                ops.NewSession(session_record(ref)),
                ops.AddEvent(event(session.id)),
                ops.Enqueue(outbox_row(1, session_id=session.id)),
                ops.PutSettings(WS, {"k": "v"}),
                ops.Touch(session.id, later, later),
                ops.NewPlan(plan_record(session.id)),
                ops.PutMember(session.id, Member("ivan", Role.EDITOR, "olga", NOW)),
                ops.UpdateSession(session.id, 1, {"title": "changed"}),
                ops.UpdateSession(session.id, 1, {"title": "stale"}),  # lost: Conflict
            ]
        )
    assert await store.sessions.counts() == {"active": 1}
    assert await store.sessions.by_id(session.id) == session
    assert await store.events.newest(session.id, limit=5) == []
    assert await store.outbox.rows(session_id=session.id) == []
    assert not await store.outbox.is_pending("row:1")
    assert await store.workspaces.settings(WS) == {}
    assert await store.plans.current(session.id) is None
    assert [m.user_id for m in await store.sessions.members(session.id)] == ["olga"]
    assert await store.apply([ops.AllocateRef(WS)]) == [ref + 1], "the failed ref was not kept"


async def test_a_database_error_after_writes_leaves_nothing(store: Store) -> None:
    session = await new_session(store)
    with pytest.raises(StoreError):
        await store.apply(
            [
                ops.AddEvent(event(session.id)),
                ops.Enqueue(outbox_row(1)),
                ops.NewSession(session_record(session.ref)),  # its ref is taken
            ]
        )
    assert await store.events.newest(session.id, limit=5) == []
    assert not await store.outbox.is_pending("row:1")


async def test_a_failed_unit_does_not_undo_the_units_committed_with_it(
    store: Store, second: Store
) -> None:
    sessions = [await new_session(store) for _ in range(6)]

    def unit(n: int) -> list[ops.Op]:
        s = sessions[n]
        good: list[ops.Op] = [ops.AddEvent(event(s.id, n)), ops.Enqueue(outbox_row(n))]
        return good + ([ops.UpdateSession(s.id, 7, {"title": "x"})] if n % 2 else [])

    outcomes = await asyncio.gather(
        *(store.apply(unit(n)) for n in range(6)),
        *(second.apply([ops.AddEvent(event(s.id, 100))]) for s in sessions),
        return_exceptions=True,
    )
    for n, outcome in enumerate(outcomes[:6]):
        if n % 2:
            assert isinstance(outcome, Conflict), (n, outcome)
        else:
            assert isinstance(outcome, list) and outcome[1] is True, (n, outcome)
    for n, s in enumerate(sessions):
        data = [e.data["n"] for e in await store.events.after(s.id, after_seq=0, limit=5)]
        assert sorted(data) == ([100] if n % 2 else [n, 100]), n
        assert await store.outbox.is_pending(f"row:{n}") is (n % 2 == 0)
