"""`store.outbox`: leases, delivery bookkeeping, counts and dedupe keys (`ops.Enqueue`)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone

from core.models import OutboxKind, OutboxRow, OutboxStatus
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import LEASE, NOW, new_session, outbox_row

TICK = timedelta(microseconds=1)


async def _claim(
    store: Store, *, at: datetime = NOW, limit: int = 100, workspaces: tuple[str, ...] = (WS,)
) -> list[str]:
    rows = await store.outbox.claim(workspaces=workspaces, now=at, limit=limit, lease=LEASE)
    return [r.dedupe_key for r in rows]


async def test_claim_leases_due_rows_oldest_due_first_up_to_the_limit(store: Store) -> None:
    due = [
        outbox_row(0, next_attempt_at=NOW),
        outbox_row(1, next_attempt_at=NOW - timedelta(minutes=1)),
        outbox_row(2, next_attempt_at=NOW),
        outbox_row(3, next_attempt_at=NOW - timedelta(minutes=2)),
        outbox_row(4, next_attempt_at=NOW + TICK),  # not yet due
        outbox_row(5, kind=OutboxKind.WEBHOOK),  # webhook rows go out through Webhooks
        outbox_row(6, status=OutboxStatus.DEAD),
        outbox_row(7, status=OutboxStatus.DELIVERED),
    ]
    await store.apply([ops.Enqueue(r) for r in due])
    assert await _claim(store, limit=3) == ["row:3", "row:1", "row:0"]
    assert await _claim(store, limit=3) == ["row:2"]
    assert await _claim(store, limit=3) == []
    assert await _claim(store, at=NOW + TICK) == ["row:4"]


async def test_a_leased_row_is_claimed_again_only_once_its_lease_runs_out(
    store: Store, second: Store
) -> None:
    await store.apply([ops.Enqueue(outbox_row(1))])
    leased = await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=LEASE)
    assert [(r.dedupe_key, r.attempts, r.status) for r in leased] == [
        ("row:1", 0, OutboxStatus.PENDING)
    ]
    assert await _claim(store) == []
    assert await _claim(second, at=NOW + LEASE - TICK) == []
    east = timezone(timedelta(hours=5))  # the same instant, a later wall-clock text
    assert await _claim(second, at=(NOW + LEASE - TICK).astimezone(east)) == []
    assert await _claim(second, at=NOW + LEASE) == ["row:1"], "a lease ends at its deadline"
    assert await _claim(store, at=NOW + LEASE) == []
    assert await _claim(store, at=NOW + 2 * LEASE) == ["row:1"]


async def test_claim_matches_workspace_prefixes_literally(store: Store) -> None:
    names = ["slack:T_1", "slack:TX1", "slack:T_1b", "slack:T%", "slack:Tabc", "slack:😀",
             "discord:1", "slack", "Slack:T_1", "console:x"]  # fmt: skip
    await store.apply([ops.Enqueue(outbox_row(n, workspace=w)) for n, w in enumerate(names)])

    async def matched(*prefixes: str) -> list[str]:
        keys = await _claim(store, workspaces=prefixes)
        return sorted(names[int(k.split(":")[1])] for k in keys)

    assert await matched() == []
    assert await matched("slack:T_") == ["slack:T_1", "slack:T_1b"]
    assert await matched("slack:T%") == ["slack:T%"]
    assert await matched("slack:", "discord:") == sorted(
        ["slack:TX1", "slack:Tabc", "slack:😀", "discord:1"]
    ), "rows leased above are not leased again"
    assert await matched("slack") == ["slack"]
    assert await matched("nothing:") == []


async def test_delivered_rows_are_done(store: Store) -> None:
    session = await new_session(store)
    await store.apply([ops.Enqueue(outbox_row(1, session_id=session.id))])
    await _claim(store)
    at = NOW + timedelta(seconds=3)
    await store.outbox.delivered(
        (await store.outbox.rows(session_id=session.id))[0].id, now=at, result_ref="1700.1"
    )
    (row,) = await store.outbox.rows(session_id=session.id)
    assert (row.status, row.attempts, row.delivered_at, row.result_ref, row.last_error) == (
        OutboxStatus.DELIVERED, 1, at, "1700.1", None,
    )  # fmt: skip
    assert not await store.outbox.is_pending("row:1")
    assert await _claim(store, at=NOW + 10 * LEASE) == []
    assert await store.outbox.counts() == {"pending": 0, "dead": 0}
    assert await store.outbox.pending_by_workspace() == {}


async def test_a_failed_row_is_retried_at_its_next_attempt_or_dead(store: Store) -> None:
    session = await new_session(store)
    await store.apply([ops.Enqueue(outbox_row(n, session_id=session.id)) for n in (1, 2)])
    first, second = await store.outbox.rows(session_id=session.id)
    await _claim(store)
    retry_at = NOW + timedelta(seconds=30)  # before the lease would run out
    await store.outbox.failed(first.id, error="x" * 5000, next_attempt_at=retry_at, dead=False)
    await store.outbox.failed(second.id, error="gone", next_attempt_at=retry_at, dead=True)
    assert await _claim(store, at=retry_at - TICK) == []
    assert await _claim(store, at=retry_at) == ["row:1"], "a failure ends the lease"
    retried, dead = await store.outbox.rows(session_id=session.id)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (
        OutboxStatus.PENDING, 1, retry_at,
    )  # fmt: skip
    assert retried.last_error == "x" * 1000
    assert (dead.status, dead.attempts, dead.last_error) == (OutboxStatus.DEAD, 1, "gone")
    assert await store.outbox.is_pending("row:1")
    assert not await store.outbox.is_pending("row:2")
    assert await store.outbox.counts() == {"pending": 1, "dead": 1}
    assert await _claim(store, at=NOW + 100 * LEASE) == ["row:1"]


async def test_counts_and_pending_by_workspace(store: Store) -> None:
    assert await store.outbox.counts() == {"pending": 0, "dead": 0}
    assert await store.outbox.pending_by_workspace() == {}
    rows = [
        outbox_row(1), outbox_row(2), outbox_row(3, workspace=OTHER_WS),
        outbox_row(4, kind=OutboxKind.WEBHOOK), outbox_row(5, status=OutboxStatus.DEAD),
        outbox_row(6, status=OutboxStatus.DELIVERED, workspace="slack:T1"),
    ]  # fmt: skip
    await store.apply([ops.Enqueue(r) for r in rows])
    assert await store.outbox.counts() == {"pending": 4, "dead": 1}
    assert await store.outbox.pending_by_workspace() == {WS: 2, OTHER_WS: 1}


async def test_rows_of_a_session_read_back_in_insertion_order(store: Store) -> None:
    session = await new_session(store)
    written = [
        outbox_row(n, session_id=session.id, next_attempt_at=NOW - timedelta(minutes=n),
                   target={"channel": "C", "thread": "1.2"}, payload={"text": "é", "n": [n]})
        for n in (2, 9, 1)
    ]  # fmt: skip
    await store.apply([ops.Enqueue(r) for r in written])
    await store.apply([ops.Enqueue(outbox_row(7))])
    assert await store.outbox.rows(session_id=session.id) == written
    assert await store.outbox.rows(session_id="no-such-session") == []


async def test_a_dedupe_key_keeps_the_first_row_forever(store: Store) -> None:
    first = outbox_row(1)
    again = dataclasses.replace(outbox_row(1), payload={"n": "again"})
    assert await store.apply([ops.Enqueue(first), ops.Enqueue(again)]) == [True, False]
    (leased,) = await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=LEASE)
    assert (leased.id, leased.payload) == (first.id, {"n": 1})
    await store.outbox.delivered(first.id, now=NOW, result_ref=None)
    assert await store.apply([ops.Enqueue(dataclasses.replace(again, id="other"))]) == [False]
    assert await store.outbox.counts() == {"pending": 0, "dead": 0}
    assert not await store.outbox.is_pending("row:1")
    assert not await store.outbox.is_pending("no-such-key")


async def test_two_stores_enqueueing_one_dedupe_key_concurrently_add_one_row(
    store: Store, second: Store
) -> None:
    added = await asyncio.gather(
        *(
            target.apply([ops.Enqueue(outbox_row(n))])
            for n in range(15)
            for target in (store, second, second)
        )
    )
    for n in range(15):
        assert sorted(r[0] for r in added[3 * n : 3 * n + 3]) == [False, False, True], n
    assert await store.outbox.counts() == {"pending": 15, "dead": 0}


async def test_two_stores_claiming_concurrently_never_lease_one_row_twice(
    store: Store, second: Store
) -> None:
    rows: list[OutboxRow] = [
        outbox_row(n, next_attempt_at=NOW - timedelta(seconds=n % 17)) for n in range(150)
    ]
    await store.apply([ops.Enqueue(r) for r in rows])
    taken: dict[str, list[str]] = {"one": [], "two": []}

    async def drain(target: Store, name: str, limit: int) -> None:
        while leased := await target.outbox.claim(
            workspaces=[WS], now=NOW, limit=limit, lease=LEASE
        ):
            assert len(leased) <= limit
            taken[name].extend(r.id for r in leased)

    await asyncio.gather(
        drain(store, "one", 7), drain(second, "two", 5), drain(store, "one", 3),
        drain(second, "two", 11),
    )  # fmt: skip
    every = taken["one"] + taken["two"]
    assert len(every) == len(set(every)) == len(rows)
    assert set(every) == {r.id for r in rows}
