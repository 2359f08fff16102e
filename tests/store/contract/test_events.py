"""`store.events` and the ops that append them (`AddEvent`, `CheckedEvent`)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from core.errors import Forbidden, NotFound, StoreError
from core.models import Member, Role, Status
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, event, new_session

TOUCH_AFTER = timedelta(minutes=1)
ABANDON_AFTER = timedelta(hours=24)


def _allow(facts: ops.SessionFacts) -> None:
    pass


async def test_seqs_count_up_per_session_and_within_a_unit(store: Store) -> None:
    one = await new_session(store)
    two = await new_session(store)
    assert await store.apply([ops.AddEvent(event(one.id, n)) for n in range(3)]) == [1, 2, 3]
    assert await store.apply([ops.AddEvent(event(two.id)), ops.AddEvent(event(one.id))]) == [1, 4]
    newest = await store.events.newest(one.id, limit=10)
    assert [(e.seq, e.data) for e in newest] == [(4, {"n": 0}), (3, {"n": 2}), (2, {"n": 1}),
                                                 (1, {"n": 0})]  # fmt: skip


async def test_an_event_reads_back_as_written_with_its_seq(store: Store) -> None:
    session = await new_session(store)
    written = dataclasses.replace(
        event(session.id, at=NOW + timedelta(seconds=1)), data={"text": "é ✓", "nested": [1, {}]}
    )
    (seq,) = await store.apply([ops.AddEvent(written)])
    assert await store.events.newest(session.id, limit=1) == [dataclasses.replace(written, seq=seq)]


async def test_newest_pages_backwards_and_after_pages_forwards(store: Store) -> None:
    session = await new_session(store)
    await store.apply([ops.AddEvent(event(session.id, n)) for n in range(1, 8)])

    async def newest(limit: int, before: int | None = None) -> list[int]:
        return [
            e.seq for e in await store.events.newest(session.id, limit=limit, before_seq=before)
        ]

    async def after(seq: int, limit: int) -> list[int]:
        return [e.seq for e in await store.events.after(session.id, after_seq=seq, limit=limit)]

    assert await newest(3) == [7, 6, 5]
    assert await newest(3, before=5) == [4, 3, 2]
    assert await newest(3, before=2) == [1]
    assert await newest(3, before=1) == []
    assert await newest(100, before=100) == [7, 6, 5, 4, 3, 2, 1]
    assert await after(0, 3) == [1, 2, 3]
    assert await after(3, 3) == [4, 5, 6]
    assert await after(6, 3) == [7]
    assert await after(7, 3) == []
    assert await store.events.newest("no-such-session", limit=5) == []
    assert await store.events.after("no-such-session", after_seq=0, limit=5) == []


async def test_an_event_of_a_missing_session_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.apply([ops.AddEvent(event("no-such-session"))])
    assert await store.events.newest("no-such-session", limit=5) == []


async def test_events_appended_concurrently_by_two_stores_get_gap_free_seqs(
    store: Store, second: Store
) -> None:
    sessions = [await new_session(store) for _ in range(3)]
    units = [
        [ops.AddEvent(event(s.id, n))] if n % 3 else [ops.AddEvent(event(s.id, n))] * 2
        for s in sessions
        for n in range(20)
    ]
    results = await asyncio.gather(
        *((store if i % 2 else second).apply(unit) for i, unit in enumerate(units))
    )
    assert sum(len(r) for r in results) == 3 * 27
    for s in sessions:
        seqs = [e.seq for e in await store.events.after(s.id, after_seq=0, limit=1000)]
        assert seqs == list(range(1, 28)), s.id


async def test_checked_event_sees_the_session_and_the_actors_role(store: Store) -> None:
    session = await new_session(store, Member("ivan", Role.APPROVER, "olga", NOW))
    seen: list[ops.SessionFacts] = []
    at = NOW + timedelta(seconds=5)  # inside the touch window: no activity write
    for ref in (str(session.ref), session.id):
        (seq,) = await store.apply(
            [ops.CheckedEvent(WS, ref, event("", at=at, actor="ivan"), seen.append,
                              TOUCH_AFTER, ABANDON_AFTER)]
        )  # fmt: skip
        assert seq == len(seen)
    facts = ops.SessionFacts(session.id, session.ref, "active", "olga", NOW, "approver")
    assert seen == [facts, facts]
    await store.apply(
        [ops.CheckedEvent(WS, str(session.ref), event("", at=at, actor="zoe"), seen.append,
                          TOUCH_AFTER, ABANDON_AFTER)]
    )  # fmt: skip
    assert seen[-1].member_role is None
    events = await store.events.newest(session.id, limit=10)
    assert [(e.seq, e.session_id, e.actor_id) for e in events] == [
        (3, session.id, "zoe"), (2, session.id, "ivan"), (1, session.id, "ivan"),
    ]  # fmt: skip
    found = await store.sessions.by_id(session.id)
    assert found == session, "inside the touch window nothing else changes"


async def test_checked_event_records_activity_once_per_window(store: Store) -> None:
    session = await new_session(store)
    at = NOW + TOUCH_AFTER
    await store.apply(
        [ops.CheckedEvent(WS, session.id, event("", at=at), _allow, TOUCH_AFTER, ABANDON_AFTER)]
    )
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.last_activity_at, found.abandon_at, found.version) == (at, at + ABANDON_AFTER, 1)


async def test_checked_event_on_an_ended_session_gives_no_new_deadline(store: Store) -> None:
    session = await new_session(store, status=Status.COMPLETED, abandon_at=None)
    at = NOW + timedelta(hours=1)
    await store.apply(
        [ops.CheckedEvent(WS, session.id, event("", at=at), _allow, TOUCH_AFTER, ABANDON_AFTER)]
    )
    found = await store.sessions.by_id(session.id)
    assert found is not None and (found.last_activity_at, found.abandon_at) == (at, None)


async def test_a_refused_check_writes_nothing_in_the_whole_unit(store: Store) -> None:
    session = await new_session(store)

    def refuse(facts: ops.SessionFacts) -> None:
        raise Forbidden("report progress", ["editor"])

    at = NOW + timedelta(hours=1)
    with pytest.raises(Forbidden):
        await store.apply(
            [
                ops.AddEvent(event(session.id)),
                ops.Touch(session.id, at, at + ABANDON_AFTER),
                ops.CheckedEvent(WS, session.id, event("", at=at), refuse, TOUCH_AFTER,
                                 ABANDON_AFTER),
            ]
        )  # fmt: skip
    assert await store.events.newest(session.id, limit=5) == []
    assert await store.sessions.by_id(session.id) == session


async def test_checked_event_of_a_missing_ref_is_not_found(store: Store) -> None:
    session = await new_session(store)
    for workspace, ref in ((WS, "99"), (WS, "nope"), (OTHER_WS, str(session.ref))):
        with pytest.raises(NotFound):
            await store.apply(
                [ops.CheckedEvent(workspace, ref, event(""), _allow, TOUCH_AFTER, ABANDON_AFTER)]
            )
    assert await store.events.newest(session.id, limit=5) == []


async def test_checked_and_plain_events_from_two_stores_share_one_gap_free_seq(
    store: Store, second: Store
) -> None:
    session = await new_session(store)

    def unit(n: int) -> list[ops.Op]:
        at = NOW + timedelta(minutes=n)  # every other one records activity
        if n % 2:
            return [ops.AddEvent(event(session.id, n, at=at))]
        return [ops.CheckedEvent(WS, str(session.ref), event("", n, at=at), _allow,
                                 TOUCH_AFTER, ABANDON_AFTER)]  # fmt: skip

    seqs = await asyncio.gather(*((store if n % 3 else second).apply(unit(n)) for n in range(40)))
    assert sorted(s[0] for s in seqs) == list(range(1, 41))
    found = await second.sessions.by_id(session.id)
    assert found is not None and found.version == 1
    latest = NOW + timedelta(minutes=38)  # the newest checked event; touches only move later
    assert (found.last_activity_at, found.abandon_at) == (latest, latest + ABANDON_AFTER)
