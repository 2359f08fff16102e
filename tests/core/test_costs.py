"""What a click, a command and the delivery of its notices cost the store: commits and reads.

Counted by the store's operation observer (`Store.observe_operations`): `write` is one unit of
work until its commit is durable, `read` one query outside a unit. A change that makes a click
or a delivery dearer fails here. Before the inbound claim rode in the unit, plans and requests
were read in one query and the outbox recorded results per lane run, a plan's Approve click
cost 2 commits and 6 reads and its delivery 4 and 6; a request's click 2 and 9, its delivery
3 and 4; `pause` 2 commits; `show` read its session, members and plan in three queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from core import cards, request_cards
from core.clock import ManualClock
from core.models import Role, Session
from core.outbox import OutboxDispatcher
from core.records.requests import RequestKind
from core.runner import CommandRunner
from core.services.asks import Ask
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, count
from tests.core.test_outbox import RecordingChat

OWNER, AMY, AGENT = actor("owner"), actor("amy"), actor("agent")


async def _counted(store: Store, act: Callable[[], Awaitable[Any]]) -> tuple[Any, Counter[str]]:
    """What `act` returns, and the operations it cost by kind (write, read, raw)."""
    seen: Counter[str] = Counter()
    store.observe_operations(lambda kind, _seconds: seen.update([kind]))
    try:
        result = await act()
    finally:
        store.observe_operations(None)
    return result, seen


async def _session(
    services: Services, store: Store, clock: ManualClock
) -> tuple[Session, RecordingChat, OutboxDispatcher]:
    """A session with an approver and an agent, its notices delivered to a recording chat."""
    chat = RecordingChat()
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[chat])
    session = await services.sessions.start(OWNER, CHAT, "costed")
    for user, role in (("amy", Role.APPROVER), ("agent", Role.EDITOR)):
        await services.members.share(OWNER, str(session.ref), user, role=role)
    await dispatcher.drain()
    return session, chat, dispatcher


async def test_an_approve_click_and_its_delivery(
    services: Services, runner: CommandRunner, store: Store, clock: ManualClock
) -> None:
    session, chat, dispatcher = await _session(services, store, clock)
    plan = (await services.plans.submit(OWNER, str(session.ref), ["a", "b"])).plan
    await dispatcher.drain()

    reply, click = await _counted(
        store,
        lambda: runner.click(AMY, CHAT, cards.APPROVE_ACTION, plan.id, delivery_key="slack:a1"),
    )
    assert reply is not None and "approved by <@amy>" in reply.view.plain_text().lower()
    assert click == Counter(write=1, read=2), click

    updates = len(chat.updates)
    _, delivery = await _counted(store, dispatcher.drain)
    assert len(chat.updates) == updates + 1
    assert "Approved by <@amy>" in chat.updates[-1][1].plain_text()
    assert await count(store, "outbox", "status = 'pending'") == 0
    assert delivery == Counter(write=2, read=2), delivery
    outbox = await count(store, "outbox")

    events = await count(store, "events")
    again, duplicate = await _counted(
        store,
        lambda: runner.click(AMY, CHAT, cards.APPROVE_ACTION, plan.id, delivery_key="slack:a1"),
    )
    assert again is None, "a redelivered click answers nothing"
    assert await count(store, "events") == events and await count(store, "outbox") == outbox
    assert duplicate["write"] == 1, duplicate  # the claim that finds the key taken


async def test_a_command_with_a_delivery_key(
    services: Services, runner: CommandRunner, store: Store, clock: ManualClock
) -> None:
    session, _, _ = await _session(services, store, clock)

    reply, listed = await _counted(
        store, lambda: runner.run(OWNER, CHAT, "list", delivery_key="k1")
    )
    assert reply is not None and f"#{session.ref}" in reply.view.plain_text()
    assert listed == Counter(write=1, read=1), listed

    reply, paused = await _counted(
        store, lambda: runner.run(OWNER, CHAT, f"pause #{session.ref}", delivery_key="k2")
    )
    assert reply is not None and "paused" in reply.view.plain_text()
    assert paused == Counter(write=1, read=1), paused

    plan = (await services.plans.submit(OWNER, str(session.ref), ["a", "b"])).plan
    reply, shown = await _counted(
        store, lambda: runner.run(OWNER, CHAT, f"show #{session.ref}", delivery_key="k3")
    )
    assert reply is not None and plan.items[0].title in reply.view.plain_text()
    assert "amy" in reply.view.plain_text(), "with its members"
    assert shown == Counter(write=1, read=1), shown  # the session, members and plan in one read


async def test_a_start_command_with_a_delivery_key(
    services: Services, runner: CommandRunner, store: Store, clock: ManualClock
) -> None:
    await _session(services, store, clock)  # the workspace's settings and webhooks are known

    reply, started = await _counted(
        store, lambda: runner.run(OWNER, CHAT, "start costed twice", delivery_key="k1")
    )
    assert reply is not None and "#2" in reply.view.plain_text()
    # SQLite's one writer reserves the ref inside the start's unit: one commit; PostgreSQL
    # reserves it by a statement of its own first (the workspace row is not held meanwhile)
    writes = 1 if store.backend == "sqlite" else 2
    assert started == Counter(write=writes), started


async def test_an_approve_click_on_a_request_and_its_delivery(
    services: Services, runner: CommandRunner, store: Store, clock: ManualClock
) -> None:
    session, chat, dispatcher = await _session(services, store, clock)
    ask = Ask(RequestKind.ACTION, action="deploy", args={"service": "api"})
    request = await services.requests.create(AGENT, str(session.ref), ask)
    await dispatcher.drain()
    value = request_cards.button_value(request, request.digest)

    reply, click = await _counted(
        store,
        lambda: runner.click(
            AMY, CHAT, request_cards.REQUEST_APPROVE, value, delivery_key="slack:r1"
        ),
    )
    assert reply is not None and "approved by <@amy>" in reply.view.plain_text().lower()
    assert click == Counter(write=1, read=3), click

    updates = len(chat.updates)
    _, delivery = await _counted(store, dispatcher.drain)
    assert len(chat.updates) == updates + 1, "the request's message shows the decision"
    assert await count(store, "outbox", "status = 'pending'") == 0
    assert delivery == Counter(write=2, read=1), delivery
