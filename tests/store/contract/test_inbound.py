"""`store.inbound`: a delivery key of an inbound chat event is claimed once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.store.store import Store
from tests.store.contract.records import NOW


async def test_a_key_is_claimed_once(store: Store) -> None:
    assert await store.inbound.claim("slack:Ev1", NOW)
    assert not await store.inbound.claim("slack:Ev1", NOW + timedelta(hours=1))
    assert await store.inbound.claim("slack:Ev2", NOW)
    assert await store.inbound.claim("slack:ev1", NOW), "keys are case-sensitive"


async def test_two_stores_claiming_keys_concurrently_claim_each_once(
    store: Store, second: Store
) -> None:
    keys = [f"discord:{n}" for n in range(20)]
    claims = await asyncio.gather(
        *(target.inbound.claim(key, NOW) for key in keys for target in (store, second, store))
    )
    for n in range(len(keys)):
        assert sorted(claims[3 * n : 3 * n + 3]) == [False, False, True], keys[n]


async def test_purge_forgets_keys_seen_before_the_cutoff_only(store: Store) -> None:
    for minutes in range(5):
        await store.inbound.claim(f"k{minutes}", NOW + timedelta(minutes=minutes))
    assert await store.inbound.purge(NOW + timedelta(minutes=2)) == 2
    assert await store.inbound.purge(NOW + timedelta(minutes=2)) == 0
    assert await store.inbound.claim("k0", NOW), "a forgotten key is new again"
    assert not await store.inbound.claim("k2", NOW), "seen exactly at the cutoff: kept"
    assert not await store.inbound.claim("k4", NOW)
