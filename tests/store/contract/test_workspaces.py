"""`store.workspaces`: settings and the known workspaces."""

from __future__ import annotations

from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS


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
