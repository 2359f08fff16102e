"""`store.workspaces`: settings, the known workspaces and their stats."""

from __future__ import annotations

from datetime import timedelta

from core.models import Status
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, new_session


async def test_settings_are_empty_until_put_and_then_replaced_whole(store: Store) -> None:
    assert await store.workspaces.settings(WS) == {}
    await store.apply([ops.PutSettings(WS, {"abandon_after": "PT2H", "admins": ["olga"]})])
    assert await store.workspaces.settings(WS) == {"abandon_after": "PT2H", "admins": ["olga"]}
    await store.apply([ops.PutSettings(WS, {"timezone": "Europe/Kyiv"})])
    assert await store.workspaces.settings(WS) == {"timezone": "Europe/Kyiv"}
    assert await store.workspaces.settings(OTHER_WS) == {}


async def test_settings_and_refs_share_the_workspace_row(store: Store) -> None:
    await store.apply([ops.PutSettings(WS, {"k": 1})])
    assert await store.apply([ops.AllocateRef(WS)]) == [1], "settings do not take a ref"
    await store.apply([ops.PutSettings(WS, {"k": 2})])
    assert await store.apply([ops.AllocateRef(WS)]) == [2], "settings keep the counter"
    assert await store.workspaces.settings(WS) == {"k": 2}


async def test_names_are_every_workspace_with_a_ref_or_settings_in_byte_order(
    store: Store,
) -> None:
    assert await store.workspaces.names() == []
    await store.apply([ops.AllocateRef("slack:b"), ops.PutSettings("slack:B", {})])
    await store.apply([ops.AllocateRef("slack:a"), ops.AllocateRef("slack:a")])
    await store.apply([ops.PutSettings("discord:ä", {})])
    assert await store.workspaces.names() == ["discord:ä", "slack:B", "slack:a", "slack:b"]


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
    stats = await store.workspaces.stats(WS, since)
    assert stats.by_status == {"active": 1, "paused": 1, "completed": 1, "failed": 1}
    assert stats.by_mode == {"default": 3, "review": 1}
    assert stats.outcomes == {"shipped": 1, "broken": 1}
    assert stats.average_iterations == 1.5
    assert stats.median_duration == timedelta(minutes=75), "between 30 min and 2 h"


async def test_stats_of_a_workspace_without_sessions_are_empty(store: Store) -> None:
    stats = await store.workspaces.stats(WS, NOW)
    assert (stats.by_status, stats.by_mode, stats.outcomes) == ({}, {}, {})
    assert (stats.average_iterations, stats.median_duration) == (0.0, None)


async def test_per_day_counts_starts_and_ends_by_outcome_in_one_workspace(store: Store) -> None:
    day = NOW.date().isoformat()
    later = (NOW + timedelta(days=1)).date().isoformat()
    await new_session(store, created_at=NOW - timedelta(days=3), mode="before the window")
    await new_session(store)
    await new_session(store, status=Status.COMPLETED, outcome="shipped", ended_at=NOW)
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
    found = await store.workspaces.per_day(WS, NOW - timedelta(hours=1))
    assert found == [
        (day, None, 3),
        (day, "shipped", 1),
        (later, "broken", 1),
        (later, "shipped", 1),
    ]
