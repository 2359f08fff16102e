"""Results of delivered outbox rows: lanes finishing together share one commit."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import StoreError
from core.outbox_results import Results
from core.store.outbox import Delivered, Failed
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")


async def _leased(services: Services, store: Store, clock: ManualClock, n: int) -> list[str]:
    for i in range(n):
        await services.sessions.start(OWNER, CHAT, f"s{i}")
    rows = await store.outbox.claim(
        workspaces=["console:"], now=clock.now(), limit=10, lease=timedelta(minutes=2)
    )
    assert len(rows) == n
    return [r.id for r in rows]


async def test_results_handed_over_together_are_one_commit(
    services: Services, store: Store, clock: ManualClock
) -> None:
    first, second, third = await _leased(services, store, clock, 3)
    results = Results(store.outbox)
    seen: Counter[str] = Counter()
    store.observe_operations(lambda kind, _seconds: seen.update([kind]))
    try:
        await asyncio.gather(
            results.record([Delivered(first, clock.now(), "m1")]),
            results.record([Delivered(second, clock.now(), None)]),
            results.record([Failed(third, "boom", clock.now() + timedelta(seconds=2))]),
        )
    finally:
        store.observe_operations(None)
    assert seen == Counter(write=1) and results.commits == 1
    assert await count(store, "outbox", "status = 'delivered' AND claimed_until IS NULL") == 2
    assert await count(store, "outbox", "id = ? AND result_ref = 'm1'", first) == 1
    failed = "id = ? AND status = 'pending' AND attempts = 1 AND last_error = 'boom'"
    assert await count(store, "outbox", failed, third) == 1


async def test_a_failed_commit_fails_every_result_it_held(
    services: Services, store: Store, clock: ManualClock
) -> None:
    (row,) = await _leased(services, store, clock, 1)
    results = Results(store.outbox)
    await store.close()
    outcomes = await asyncio.gather(
        results.record([Delivered(row, clock.now())]),
        results.record([Delivered(row, clock.now())]),
        return_exceptions=True,
    )
    assert all(isinstance(o, StoreError) for o in outcomes), outcomes
    assert results.commits == 0
    with pytest.raises(StoreError):
        await results.record([Delivered(row, clock.now())])
    await store.open()  # the fixture closes it
