"""PostgreSQL's group commits (core/store/groups.py): lone checked events (appends.py), new
sessions and ref reservations (births.py) submitted while a group is in flight commit together,
and each caller still gets exactly its own outcome."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from core.errors import Forbidden, NotFound, UsageError
from core.models import Event, Member, Role
from core.store import ops, wakes
from core.store.groups import Grouper
from core.store.store import Store
from tests.conftest import OTHER_WS, WS, opened_store
from tests.store.contract.records import NOW, event, new_session, outbox_row, session_record

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


def _appends(store: Store) -> Grouper[Any, int]:
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


# -- new sessions and their refs --------------------------------------------------------------


def _born(workspace: str, ref: int, n: int) -> list[ops.Op]:
    """A start's unit: the session, its owner, its first event, its card's outbox row."""
    session = session_record(ref, workspace=workspace, title=f"session {n}")
    owner = Member("olga", Role.OWNER, "olga", NOW)
    return [
        ops.NewSession(session, (owner,)),
        ops.AddEvent(event(session.id, n)),
        ops.AddEvent(event(session.id, n + 1000)),
        ops.Enqueue(outbox_row(n, dedupe_key=f"card:{session.id}")),
    ]


def _grouped(grouper: Grouper[Any, Any] | None) -> Grouper[Any, Any]:
    assert grouper is not None, "PostgreSQL groups them"
    return grouper


async def test_refs_reserved_together_are_one_block_per_workspace_without_gaps(
    store: Store,
) -> None:
    assert await store.workspaces.allocate_ref(WS) == 1  # alone: as before
    asked = [WS if n % 3 else OTHER_WS for n in range(30)]
    refs = await asyncio.gather(*(store.workspaces.allocate_ref(w) for w in asked))

    mine = [ref for ref, w in zip(refs, asked, strict=True) if w == WS]
    theirs = [ref for ref, w in zip(refs, asked, strict=True) if w == OTHER_WS]
    assert mine == list(range(2, 22)) and theirs == list(range(1, 11))  # in the order asked
    assert _grouped(store.workspaces.grouped).groups == 2  # the lone one, then one group
    assert await store.workspaces.allocate_ref(OTHER_WS) == 11


async def test_sessions_started_together_commit_as_one_group_with_every_row(
    store: Store,
) -> None:
    await store.homes.opened(WS, "olga", admin=False, at=NOW)
    writes: list[str] = []
    store.observe_operations(lambda kind, _: writes.append(kind))
    units = [_born(WS, n + 1, n) for n in range(20)]
    units[7][3] = ops.Enqueue(outbox_row(7, dedupe_key=units[3][3].row.dedupe_key))  # taken
    results = await asyncio.gather(*(store.apply(unit) for unit in units))

    assert writes.count("write") == 1 and _grouped(store.births).groups == 1
    assert results == [[None, 1, 2, n != 7] for n in range(20)]
    for n, unit in enumerate(units):
        session = unit[0].session  # type: ignore[attr-defined]
        assert await store.sessions.by_id(session.id) == session
        assert [m.user_id for m in await store.sessions.members(session.id)] == ["olga"]
        stored = await _stored(store, session.id)
        assert [(e.seq, e.data["n"]) for e in stored] == [(1, n), (2, n + 1000)]
    found = await store.db.fetchall("SELECT dedupe_key FROM outbox ORDER BY dedupe_key")
    keys = [r[0] for r in found]
    assert len(keys) == 20 and sum(k.startswith("home:") for k in keys) == 1  # one republish
    assert sorted(k for k in keys if k.startswith("card:")) == sorted(
        u[3].row.dedupe_key
        for n, u in enumerate(units)
        if n != 7  # type: ignore[attr-defined]
    )


async def test_a_session_the_database_refuses_fails_alone_in_its_group(store: Store) -> None:
    units = [_born(WS, n + 1, n) for n in range(4)]
    bad = dataclasses.replace(units[1][0].session, title="bad\x00title")  # type: ignore[attr-defined]
    units[1][0] = ops.NewSession(bad, units[1][0].members)  # type: ignore[attr-defined]
    results = await asyncio.gather(*(store.apply(unit) for unit in units), return_exceptions=True)

    assert isinstance(results[1], UsageError)
    assert [results[n] for n in (0, 2, 3)] == [[None, 1, 2, True]] * 3
    assert await store.sessions.by_id(bad.id) is None
    assert await _stored(store, bad.id) == []
    assert _grouped(store.births).groups == 1 + 4


async def test_a_unit_that_changes_what_exists_is_not_grouped_as_a_birth(store: Store) -> None:
    session = await new_session(store)
    before = _grouped(store.births).groups
    unit = [*_born(WS, 99, 0), ops.AddEvent(event(session.id, 5))]  # another session's event
    assert (await store.apply(unit))[-1] == 1
    assert _grouped(store.births).groups == before
