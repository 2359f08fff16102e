"""`store.tallies`: a workspace's sessions and decisions by UTC day, and the days a session
counts in."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.models import Status
from core.records.stats import DayPart, add_up
from core.store import ops, wakes
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, new_session, plan_record

DAY = NOW.date()
LATER = DAY + timedelta(days=1)
HOUR = timedelta(hours=1)


async def _decided(
    store: Store, session_id: str, submitted: timedelta, took: timedelta, version: int = 1
) -> None:
    """A plan submitted at NOW + `submitted` that a person approved `took` later."""
    plan = plan_record(session_id, version, submitted_at=NOW + submitted)
    await store.apply([ops.NewPlan(plan)])
    decided = {"status": "approved", "decided_by": "olga", "decided_at": NOW + submitted + took}
    await store.apply([ops.UpdatePlan(plan.id, 1, decided)])


async def test_stats_cover_the_workspaces_sessions_created_since(store: Store) -> None:
    since = NOW
    await new_session(store, created_at=NOW - timedelta(seconds=1), mode="old")
    await new_session(store, iterations=2)
    await new_session(store, mode="review", status=Status.PAUSED, iterations=4)
    await new_session(
        store, status=Status.COMPLETED, outcome="shipped", ended_at=NOW + timedelta(hours=2)
    )
    await new_session(
        store, status=Status.FAILED, outcome="broken", ended_at=NOW + timedelta(minutes=30)
    )
    await new_session(store, workspace=OTHER_WS, mode="elsewhere")
    parts = await store.tallies.days(WS, since, None, until=NOW + HOUR, with_ended=False)
    stats = add_up(parts.values(), [])
    assert stats.by_status == {"active": 1, "paused": 1, "completed": 1, "failed": 1}
    assert stats.by_mode == {"default": 3, "review": 1}
    assert stats.outcomes == {"shipped": 1, "broken": 1}
    assert stats.average_iterations == 1.5
    assert stats.median_duration == timedelta(minutes=75), "between 30 min and 2 h"


async def test_stats_of_a_workspace_without_sessions_are_empty(store: Store) -> None:
    stats = add_up((await store.tallies.days(WS, NOW, None, until=NOW)).values(), [])
    assert (stats.by_status, stats.by_mode, stats.outcomes) == ({}, {}, {})
    assert (stats.average_iterations, stats.median_duration) == (0.0, None)
    assert (stats.median_latency, stats.latency_counts) == (None, [0])


async def test_per_day_counts_starts_and_ends_by_outcome_in_one_workspace(store: Store) -> None:
    await new_session(store, created_at=NOW - timedelta(days=3), mode="before the window")
    await new_session(store)
    shipped = await new_session(store, status=Status.COMPLETED, outcome="shipped", ended_at=NOW)
    await new_session(
        store, status=Status.FAILED, outcome="broken", ended_at=NOW + timedelta(days=1)
    )
    await new_session(
        store,
        created_at=NOW - timedelta(days=3),
        status=Status.COMPLETED,
        outcome="shipped",
        ended_at=NOW + timedelta(days=1),
    )
    await new_session(store, workspace=OTHER_WS, status=Status.FAILED, outcome="broken",
                      ended_at=NOW)  # fmt: skip
    found = await store.tallies.days(WS, NOW - timedelta(hours=1), None, until=NOW)
    assert {day: (p.started, p.ended) for day, p in found.items()} == {
        DAY: (3, {"shipped": 1}),
        LATER: (0, {"broken": 1, "shipped": 1}),
    }
    assert found[DAY].ended_ids == [shipped.id], "which session ended, for the day it left"


async def test_days_are_half_open_and_decisions_may_start_after_the_start(store: Store) -> None:
    midnight = NOW.replace(hour=0)
    at_midnight = await new_session(store, created_at=midnight, status=Status.COMPLETED,
                                    outcome="completed", ended_at=midnight + 2 * HOUR)  # fmt: skip
    await new_session(store, created_at=midnight - timedelta(microseconds=1))
    await _decided(
        store, at_midnight.id, -(NOW - midnight) - timedelta(minutes=5), timedelta(minutes=5)
    )  # fmt: skip  (decided exactly at midnight)
    day = await store.tallies.days(WS, midnight, midnight + timedelta(days=1), until=NOW)
    assert list(day) == [DAY]
    assert day[DAY].started == 1, "the first instant is in, the one before is not"
    assert day[DAY].durations == [7200.0]
    assert day[DAY].latencies == [300.0]
    after = await store.tallies.days(
        WS, midnight, midnight + timedelta(days=1), until=NOW, after_start=True
    )
    assert after[DAY].latencies == [], "decided at the start itself: not after it"
    before = await store.tallies.days(WS, midnight - timedelta(days=1), midnight, until=NOW)
    assert list(before) == [DAY - timedelta(days=1)]
    assert before[DAY - timedelta(days=1)].started == 1


async def test_decisions_count_by_day_up_to_until_and_only_a_persons(store: Store) -> None:
    session = await new_session(store)
    await _decided(store, session.id, timedelta(minutes=1), timedelta(minutes=2))
    await _decided(store, session.id, timedelta(minutes=10), timedelta(hours=1), 2)
    await _decided(store, session.id, timedelta(days=1), timedelta(seconds=30), 3)
    expired = plan_record(session.id, version=9)
    await store.apply([ops.NewPlan(expired)])
    await store.apply([ops.UpdatePlan(expired.id, 1, {"status": "expired", "decided_at": NOW})])
    other = await new_session(store, workspace=OTHER_WS)
    await _decided(store, other.id, timedelta(minutes=1), timedelta(minutes=7))
    found = await store.tallies.days(WS, NOW - HOUR, None, until=NOW + 2 * HOUR)
    assert sorted(found[DAY].latencies) == [120.0, 3600.0]
    assert LATER not in found, "decided after `until`"
    found = await store.tallies.days(WS, NOW - HOUR, None, until=NOW + timedelta(days=2))
    assert found[LATER].latencies == [30.0]
    totals = add_up(found.values(), [timedelta(minutes=1), timedelta(minutes=10)])
    assert totals.latency_counts == [1, 1, 1]
    assert totals.median_latency == timedelta(minutes=2)


async def test_days_of_names_each_days_a_session_counts_in(store: Store) -> None:
    old = await new_session(store, created_at=NOW - timedelta(days=2), status=Status.COMPLETED,
                            outcome="completed", ended_at=NOW)  # fmt: skip
    await _decided(store, old.id, timedelta(days=1), timedelta(minutes=1))
    fresh = await new_session(store, workspace=OTHER_WS)
    found = await store.tallies.days_of([old.id, fresh.id])
    assert found == {WS: {DAY - timedelta(days=2), DAY, LATER}, OTHER_WS: {DAY}}
    assert await store.tallies.days_of([]) == {}
    (version,) = [s.version for s in [await store.sessions.by_id(fresh.id)] if s]
    assert await store.sessions.delete(fresh.id, version=version)
    assert await store.tallies.days_of([old.id, fresh.id]) is None, "a deleted one: unknown"


async def test_parts_add_up_to_the_whole_window(store: Store) -> None:
    """Reading a window day by day gives what one read of it gives (the Stats page keeps
    finished days and reads the rest)."""
    for n in range(6):
        s = await new_session(
            store, created_at=NOW - timedelta(hours=9 * n), iterations=n,
            status=Status.COMPLETED if n % 2 else Status.ACTIVE,
            outcome="completed" if n % 2 else None,
            ended_at=NOW + timedelta(minutes=7 * n) if n % 2 else None,
        )  # fmt: skip
        await _decided(store, s.id, -timedelta(hours=9 * n), timedelta(minutes=3 * n + 1))
    since = NOW - timedelta(days=2, hours=5)
    whole = await store.tallies.days(WS, since, None, until=NOW, after_start=True)
    midnight = since.replace(hour=0) + timedelta(days=1)
    pieces: dict[object, DayPart] = {}
    pieces |= await store.tallies.days(WS, since, midnight, until=NOW, after_start=True)
    for n in range(2):
        start = midnight + timedelta(days=n)
        pieces |= await store.tallies.days(WS, start, start + timedelta(days=1), until=NOW)
    pieces |= await store.tallies.days(WS, midnight + timedelta(days=2), None, until=NOW)
    bounds = [timedelta(minutes=5)]
    assert add_up(pieces.values(), bounds) == add_up(whole.values(), bounds)
    assert add_up(whole.values(), bounds).by_status == {"active": 3, "completed": 3}


async def test_every_write_of_a_session_row_names_the_session_or_its_days(store: Store) -> None:
    """What the Stats page relies on to keep finished days: a commit that creates or changes a
    session's row names the session (`events:<id>`), with or without an event; one that
    deletes it names the days it counted in."""
    heard: list[frozenset[str]] = []
    store.on_wake(heard.append)

    async def told(key: str) -> bool:
        for _ in range(50):  # the keys reach the loop by call_soon_threadsafe
            if any(key in keys for keys in heard):
                return True
            await asyncio.sleep(0)
        return False

    session = await new_session(store)
    assert await told(wakes.events(session.id)), "created"
    heard.clear()
    await store.apply([ops.UpdateSession(session.id, 1, {"iterations": 3})])
    assert await told(wakes.events(session.id)), "changed"
    await _decided(store, session.id, timedelta(days=2), timedelta(minutes=1))
    heard.clear()
    assert await store.sessions.delete(session.id, version=2)
    assert await told(wakes.day(WS, DAY)), "deleted: the day it was created"
    assert await told(wakes.day(WS, DAY + timedelta(days=2))), "and the day of its decision"
    archived = await new_session(store, status=Status.ARCHIVED, outcome="completed",
                                 ended_at=NOW + timedelta(days=1))  # fmt: skip
    heard.clear()
    assert await store.jobs.delete_archived(archived.id, version=1)
    assert await told(wakes.day(WS, LATER)), "deleted by the cleanup: the day it ended"
    heard.clear()
    assert not await store.sessions.delete(archived.id, version=1)
    assert not await told(wakes.day(WS, DAY)), "nothing deleted, nothing named"
    assert wakes.days([wakes.day("slack:T1", DAY), wakes.OUTBOX]) == [("slack:T1", DAY)]
