"""Session write ops: refs, compare-and-set updates and activity (`Touch`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest

from core.errors import Conflict, StoreError
from core.models import Status
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, new_session, session_record


async def test_refs_count_up_per_workspace_from_one(store: Store) -> None:
    refs = [(await store.apply([ops.AllocateRef(WS)]))[0] for _ in range(3)]
    assert refs == [1, 2, 3]
    assert await store.apply([ops.AllocateRef(OTHER_WS), ops.AllocateRef(OTHER_WS)]) == [1, 2]
    assert await store.workspaces.names() == sorted([WS, OTHER_WS])


async def test_refs_allocated_concurrently_by_two_stores_are_gap_free(
    store: Store, second: Store
) -> None:
    results = await asyncio.gather(
        *((store if n % 2 else second).apply([ops.AllocateRef(WS)]) for n in range(40))
    )
    assert sorted(r[0] for r in results) == list(range(1, 41))


async def test_a_second_session_with_a_taken_ref_is_refused_and_writes_nothing(
    store: Store,
) -> None:
    first = await new_session(store)
    clash = session_record(first.ref)
    with pytest.raises(StoreError):
        await store.apply([ops.NewSession(clash)])
    assert await store.sessions.by_id(clash.id) is None
    assert await store.sessions.get(WS, str(first.ref)) == first


async def test_update_session_is_a_compare_and_set_on_the_version(store: Store) -> None:
    session = await new_session(store)
    later = NOW + timedelta(minutes=1)
    changes = {"title": "renamed", "context": {"a": 1}, "updated_at": later}
    assert await store.apply([ops.UpdateSession(session.id, 1, changes)]) == [2]
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.title, found.context, found.updated_at, found.version) == (
        "renamed", {"a": 1}, later, 2,
    )  # fmt: skip
    with pytest.raises(Conflict):
        await store.apply([ops.UpdateSession(session.id, 1, {"title": "stale"})])
    with pytest.raises(Conflict):
        await store.apply([ops.UpdateSession("no-such-session", 1, {"title": "x"})])
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.title, found.version) == ("renamed", 2)


async def test_update_session_checks_the_expected_status_and_the_due_deadline(
    store: Store,
) -> None:
    due = NOW + timedelta(hours=1)
    session = await new_session(store, abandon_at=due)
    with pytest.raises(Conflict):
        await store.apply(
            [ops.UpdateSession(session.id, 1, {"status": "completed"}, expected_status="paused")]
        )
    with pytest.raises(Conflict):  # activity pushed abandon_at past what the sweep saw
        await store.apply(
            [ops.UpdateSession(session.id, 1, {"status": "abandoned"}, due_by=due - timedelta(1))]
        )
    assert await store.apply(
        [ops.UpdateSession(session.id, 1, {"status": "abandoned"}, "active", due_by=due)]
    ) == [2]
    found = await store.sessions.by_id(session.id)
    assert found is not None and found.status is Status.ABANDONED


async def test_update_session_refuses_a_column_it_may_not_change(store: Store) -> None:
    session = await new_session(store)
    for column in ("id", "workspace", "ref", "version", "created_at", "nonsense"):
        with pytest.raises(ValueError, match="not updatable"):
            await store.apply([ops.UpdateSession(session.id, 1, {column: "x"})])
    assert await store.sessions.by_id(session.id) == session


async def test_two_stores_updating_one_version_concurrently_make_one_change(
    store: Store, second: Store
) -> None:
    sessions = [await new_session(store) for _ in range(10)]
    outcomes = await asyncio.gather(
        *(
            target.apply([ops.UpdateSession(s.id, 1, {"title": name})])
            for s in sessions
            for target, name in ((store, "one"), (second, "two"))
        ),
        return_exceptions=True,
    )
    for s, pair in zip(sessions, zip(outcomes[::2], outcomes[1::2], strict=True), strict=True):
        won = [o for o in pair if not isinstance(o, BaseException)]
        assert won == [[2]], pair
        assert sum(isinstance(o, Conflict) for o in pair) == 1, pair
        found = await second.sessions.by_id(s.id)
        assert found is not None and found.version == 2
        assert found.title == ("one" if pair[0] == [2] else "two")


async def test_touch_moves_last_activity_and_abandon_at_only_later(store: Store) -> None:
    deadline = NOW + timedelta(hours=24)
    session = await new_session(store, abandon_at=deadline)
    t1 = NOW + timedelta(minutes=10)
    await store.apply([ops.Touch(session.id, t1, deadline - timedelta(hours=1))])
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.last_activity_at, found.abandon_at, found.version) == (t1, deadline, 1)
    t2 = NOW + timedelta(minutes=20)
    pushed = deadline + timedelta(hours=1)
    await store.apply([ops.Touch(session.id, t2, pushed)])
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.last_activity_at, found.abandon_at) == (t2, pushed)
    await store.apply([ops.Touch(session.id, t1, pushed + timedelta(hours=5))])  # stale touch
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.last_activity_at, found.abandon_at) == (t2, pushed)
    t3 = NOW + timedelta(minutes=30)
    await store.apply([ops.Touch(session.id, t3, None)])
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.last_activity_at, found.abandon_at) == (t3, pushed)


async def test_touch_gives_a_session_without_a_deadline_one(store: Store) -> None:
    session = await new_session(store, abandon_at=None)
    at = NOW + timedelta(minutes=1)
    await store.apply([ops.Touch(session.id, at, None)])
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.last_activity_at, found.abandon_at) == (at, None)
    deadline = NOW + timedelta(hours=2)
    await store.apply([ops.Touch(session.id, at + timedelta(minutes=1), deadline)])
    found = await store.sessions.by_id(session.id)
    assert found is not None and found.abandon_at == deadline
    await store.apply([ops.Touch("no-such-session", at, deadline)])  # nothing, no error


async def test_times_in_other_zones_compare_as_instants(store: Store) -> None:
    east = timezone(timedelta(hours=5))
    session = await new_session(store, last_activity_at=NOW, abandon_at=NOW + timedelta(hours=1))
    earlier = (NOW - timedelta(minutes=30)).astimezone(east)  # later wall-clock text
    await store.apply([ops.Touch(session.id, earlier, NOW + timedelta(hours=9))])
    assert await store.sessions.by_id(session.id) == session
    later = (NOW + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=-8)))
    await store.apply([ops.Touch(session.id, later, (NOW + timedelta(hours=2)).astimezone(east))])
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.last_activity_at, found.abandon_at) == (
        NOW + timedelta(minutes=30), NOW + timedelta(hours=2),
    )  # fmt: skip


async def test_activity_from_another_store_never_makes_an_update_conflict(
    store: Store, second: Store
) -> None:
    sessions = [await new_session(store) for _ in range(10)]
    at = NOW + timedelta(minutes=1)
    results = await asyncio.gather(
        *(
            unit
            for n, s in enumerate(sessions)
            for unit in (
                store.apply([ops.UpdateSession(s.id, 1, {"title": f"t{n}"})]),
                second.apply([ops.Touch(s.id, at, at + timedelta(hours=24))]),
            )
        )
    )
    assert results[::2] == [[2]] * 10
    for n, s in enumerate(sessions):
        found = await store.sessions.by_id(s.id)
        assert found is not None
        assert (found.title, found.version, found.last_activity_at) == (f"t{n}", 2, at)


async def test_concurrent_touches_from_two_stores_keep_the_latest(
    store: Store, second: Store
) -> None:
    session = await new_session(store)
    minutes = [7, 3, 19, 11, 2, 17, 5, 13, 23, 1, 29, 31, 37, 30, 6]
    await asyncio.gather(
        *(
            (store if n % 2 else second).apply(
                [ops.Touch(session.id, NOW + timedelta(minutes=m), NOW + timedelta(hours=m))]
            )
            for n, m in enumerate(minutes)
        )
    )
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.last_activity_at, found.abandon_at, found.version) == (
        NOW + timedelta(minutes=37), NOW + timedelta(hours=37), 1,
    )  # fmt: skip
