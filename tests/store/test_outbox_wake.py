"""Commits wake the outbox dispatcher only when they may add something to deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import OutboxKind, OutboxRow, OutboxStatus, new_id
from core.store import ops
from core.store.store import Store
from tests.conftest import WS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(n: int) -> OutboxRow:
    return OutboxRow(
        id=new_id(), workspace=WS, kind=OutboxKind.CHANNEL_MESSAGE, target={"channel": "c"},
        payload={"n": n}, dedupe_key=f"test:{n}", status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=NOW, created_at=NOW,
    )  # fmt: skip


async def test_only_commits_that_may_add_deliveries_wake_the_outbox(store: Store) -> None:
    wakes: list[int] = []
    store.on_commit(lambda: wakes.append(1))
    row = _row(1)
    await store.apply([ops.Enqueue(row)])
    assert len(wakes) == 1
    leased = await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=timedelta(1))
    await store.outbox.failed(row.id, error="x", next_attempt_at=NOW, dead=False)
    await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=timedelta(1))
    await store.outbox.delivered(row.id, now=NOW, result_ref=None)
    await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=timedelta(1))
    assert [r.id for r in leased] == [row.id]
    assert len(wakes) == 1, "a lease or a result never wakes the dispatcher (it would spin)"
