"""A session start as one unit: the ref it gets shows in every row the start writes — its card,
its plan's message, each webhook's payload — on both backends (SQLite reserves the ref inside
the start's unit, PostgreSQL in a grouped statement of its own before it)."""

from __future__ import annotations

from core.models import OutboxKind
from core.runner import CommandRunner
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor

ADMIN, OWNER = actor("root"), actor("owner")


async def test_the_ref_a_start_gets_is_in_its_card_its_plan_and_its_webhooks(
    runner: CommandRunner, services: Services, store: Store
) -> None:
    added = await runner.run(
        ADMIN, CHAT, "webhook add https://hooks.example/x created plan_submitted"
    )
    assert added is not None and "Webhook" in added.view.plain_text()
    first = await services.sessions.start(OWNER, CHAT, "first")
    second = await services.sessions.start(OWNER, CHAT, "second", plan_items=["a", "b"])
    assert (first.ref, second.ref) == (1, 2)
    assert (await services.sessions.show(OWNER, "2")).session.title == "second"

    rows = await store.outbox.rows(session_id=second.id)
    hooks = {r.payload["event"]: r.payload for r in rows if r.kind is OutboxKind.WEBHOOK}
    assert sorted(hooks) == ["created", "plan_submitted"]
    assert {p["session"]["ref"] for p in hooks.values()} == {2}
    shown = [str(r.payload) for r in rows if r.kind is not OutboxKind.WEBHOOK]
    assert len(shown) >= 2  # the card and the plan's message (and its pointer)
    assert all("#2" in text and "#1" not in text for text in shown), shown
