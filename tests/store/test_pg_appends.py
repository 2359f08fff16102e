"""PostgreSQL's grouping of lone checked events (core/store/appends.py): events submitted while
a group is in flight commit together, and each caller still gets exactly its own outcome."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from core.errors import Forbidden, NotFound, UsageError
from core.models import Event
from core.store import ops, wakes
from core.store.appends import Appends
from core.store.store import Store
from tests.conftest import OTHER_WS, WS, opened_store
from tests.store.contract.records import NOW, event, new_session

TOUCH_AFTER = timedelta(minutes=1)
ABANDON_AFTER = timedelta(hours=24)


@pytest.fixture
def backend() -> str:
    return "postgres"


def _allow(facts: ops.SessionFacts) -> None:
    pass


def _refuse(facts: ops.SessionFacts) -> None:
    raise Forbidden("report progress", ["editor"])


def _checked(ref: str, n: int, *, at_minute: int = 0, check: ops.Check = _allow,
             actor: str = "olga", workspace: str = WS) -> ops.CheckedEvent:  # fmt: skip
    at = NOW + timedelta(minutes=at_minute)
    return ops.CheckedEvent(
        workspace, ref, event("", n, at=at, actor=actor), check, TOUCH_AFTER, ABANDON_AFTER
    )


def _appends(store: Store) -> Appends:
    assert store.appends is not None, "PostgreSQL groups lone checked events"
    return store.appends


async def _stored(store: Store, session_id: str) -> list[Event]:
    return await store.events.after(session_id, after_seq=0, limit=1000)


async def test_events_submitted_together_commit_as_one_group_each_with_its_own_seq(
    store: Store,
) -> None:
    sessions = [await new_session(store) for _ in range(3)]
    woken: list[frozenset[str]] = []
    store.on_wake(woken.append)
    writes: list[str] = []
    store.observe_operations(lambda kind, _: writes.append(kind))
    units = [
        _checked(str(s.ref) if n % 2 else s.id, n, at_minute=n)
        for n in range(60)
        for s in (sessions[n % 3],)
    ]
    seqs = await asyncio.gather(*(store.apply([op]) for op in units))

    assert writes.count("write") == 1 and _appends(store).groups == 1  # one unit, one commit
    for index, session in enumerate(sessions):
        stored = await _stored(store, session.id)
        mine = [n for n in range(60) if n % 3 == index]
        assert [(e.seq, e.data["n"]) for e in stored] == list(enumerate(mine, start=1))
        by_id = {e.id: e.seq for e in stored}
        for n in mine:
            assert seqs[n] == [by_id[units[n].event.id]]
        found = await store.sessions.by_id(session.id)
        latest = NOW + timedelta(minutes=mine[-1])  # recorded once, at the newest event
        assert found is not None
        assert (found.last_activity_at, found.abandon_at) == (latest, latest + ABANDON_AFTER)
        assert wakes.events(session.id) in woken[-1]


async def test_a_refused_or_missing_event_fails_alone_and_the_rest_of_its_group_commits(
    store: Store,
) -> None:
    session = await new_session(store)
    units = [
        _checked(session.id, 0),
        _checked(session.id, 1, check=_refuse),
        _checked("99", 2),
        _checked(str(session.ref), 3, workspace=OTHER_WS),
        _checked(str(session.ref), 4),
    ]
    results = await asyncio.gather(*(store.apply([op]) for op in units), return_exceptions=True)

    assert results[0] == [1] and results[4] == [2]
    assert isinstance(results[1], Forbidden)
    assert isinstance(results[2], NotFound) and isinstance(results[3], NotFound)
    assert [e.data["n"] for e in await _stored(store, session.id)] == [0, 4]
    assert _appends(store).groups == 1


async def test_text_the_database_refuses_fails_only_the_event_that_holds_it(store: Store) -> None:
    session = await new_session(store)
    units = [_checked(session.id, n) for n in range(4)]
    bad = dataclasses.replace(units[2].event, actor_id="ol\x00ga")
    units[2] = dataclasses.replace(units[2], event=bad)
    results = await asyncio.gather(*(store.apply([op]) for op in units), return_exceptions=True)

    assert isinstance(results[2], UsageError)
    assert [results[0], results[1], results[3]] == [[1], [2], [3]]
    assert [e.data["n"] for e in await _stored(store, session.id)] == [0, 1, 3]
    assert _appends(store).groups == 1 + 4  # the group, then each of its events alone


async def test_a_caller_cancelled_while_its_event_waits_writes_nothing(store: Store) -> None:
    session = await new_session(store)
    _appends(store).lanes = 1
    first = asyncio.create_task(store.apply([_checked(session.id, 0)]))
    for _ in range(3):  # the lane has taken the first event and waits on the database
        await asyncio.sleep(0)
    kept = asyncio.create_task(store.apply([_checked(session.id, 1)]))
    dropped = asyncio.create_task(store.apply([_checked(session.id, 2)]))
    await asyncio.sleep(0)
    dropped.cancel()

    assert await first == [1] and await kept == [2]
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert [e.data["n"] for e in await _stored(store, session.id)] == [0, 1]


async def test_close_commits_every_event_already_submitted(db_url: str) -> None:
    async with opened_store(db_url) as store:
        session = await new_session(store)
        _appends(store).lanes = 1
        waiting = [asyncio.create_task(store.apply([_checked(session.id, 0)]))]
        for _ in range(3):  # the lane has taken the first event: the others wait for a group
            await asyncio.sleep(0)
        waiting += [asyncio.create_task(store.apply([_checked(session.id, n)])) for n in range(29)]
        await asyncio.sleep(0)
    assert sorted([(await task)[0] for task in waiting]) == list(range(1, 31))
    async with opened_store(db_url) as again:
        assert len(await _stored(again, session.id)) == 30


async def test_a_unit_carrying_more_than_the_event_is_not_grouped(store: Store) -> None:
    session = await new_session(store)
    (seq, _) = await store.apply([_checked(session.id, 0), ops.AddEvent(event(session.id, 1))])
    assert seq == 1 and _appends(store).groups == 0
