"""Notices for a workspace whose platform has no adapter here are counted, not hidden."""

from __future__ import annotations

from core.cards import stats_view
from core.models import ChatRef
from core.store.store import Store
from core.waiting import by_platform, waiting_notices
from core.wiring import Services
from tests.conftest import CHAT, actor

SLACK = "slack:T0123"
OWNER = actor("owner")
SLACK_OWNER = actor("owner", SLACK)


async def _pending(store: Store, workspace: str) -> int:
    counts = await store.outbox.pending_by_workspace()
    return counts.get(workspace, 0)


async def test_stats_count_notices_no_adapter_here_will_send(
    services: Services, store: Store
) -> None:
    await services.sessions.start(SLACK_OWNER, ChatRef("slack", SLACK, "C1"), "slack one")
    await services.sessions.start(OWNER, CHAT, "console one")
    slack_rows = await _pending(store, SLACK)
    assert slack_rows >= 1 and await _pending(store, OWNER.workspace) >= 1

    assert (await services.workspace.stats(OWNER)).outbox_waiting == 0, (
        "unknown platforms: no claim"
    )
    services.workspace.delivered_platforms = lambda: frozenset({"api", "console"})
    stats = await services.workspace.stats(OWNER)
    assert stats.outbox_waiting == slack_rows
    fields = {f.label: f.value for f in stats_view(stats).fields}
    assert fields["Outbox waiting"].startswith(f"{slack_rows} for a platform")

    services.workspace.delivered_platforms = lambda: frozenset({"api", "console", "slack"})
    stats = await services.workspace.stats(OWNER)
    assert stats.outbox_waiting == 0
    assert "Outbox waiting" not in {f.label for f in stats_view(stats).fields}


async def test_waiting_notices_are_grouped_by_platform(services: Services, store: Store) -> None:
    await services.sessions.start(SLACK_OWNER, ChatRef("slack", SLACK, "C1"), "slack one")
    await services.sessions.start(OWNER, CHAT, "console one")
    waiting = await waiting_notices(store.outbox, {"api"})
    assert set(waiting) == {SLACK, OWNER.workspace}
    assert by_platform(waiting) == {
        "console": {OWNER.workspace: waiting[OWNER.workspace]},
        "slack": {SLACK: waiting[SLACK]},
    }
