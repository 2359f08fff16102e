"""A delivery key is claimed by the unit that makes the change (core/store/claims.py)."""

from __future__ import annotations

import asyncio

from core import cards
from core.models import Role
from core.runner import CommandRunner
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER, AMY = actor("owner"), actor("amy")


async def test_concurrent_deliveries_of_one_click_decide_and_answer_once(
    services: Services, runner: CommandRunner, store: Store
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "raced")
    await services.members.share(OWNER, str(session.ref), "amy", role=Role.APPROVER)
    plan = (await services.plans.submit(OWNER, str(session.ref), ["a"])).plan
    replies = await asyncio.gather(
        *(
            runner.click(AMY, CHAT, cards.APPROVE_ACTION, plan.id, delivery_key="slack:same")
            for _ in range(5)
        )
    )
    answered = [r for r in replies if r is not None]
    assert len(answered) == 1 and "approved by <@amy>" in answered[0].view.plain_text().lower()
    assert await count(store, "approvals") == 1
    assert await count(store, "inbound_dedupe", "key = ?", "slack:same") == 1


async def test_a_command_of_two_units_claims_with_the_first_and_a_redelivery_adds_nothing(
    runner: CommandRunner, store: Store
) -> None:
    first = await runner.run(OWNER, CHAT, "start two units", delivery_key="k:start")
    assert first is not None and "#1" in first.view.plain_text()
    assert await runner.run(OWNER, CHAT, "start two units", delivery_key="k:start") is None
    assert await count(store, "sessions") == 1
    third = await runner.run(OWNER, CHAT, "start another", delivery_key="k:other")
    assert third is not None and "#2" in third.view.plain_text(), "no ref was used up"


async def test_a_refused_command_claims_its_key_and_is_answered_once(
    runner: CommandRunner, store: Store
) -> None:
    refused = await runner.run(OWNER, CHAT, "pause #9", delivery_key="k:refused")
    assert refused is not None and refused.view.kind == "error"
    assert await runner.run(OWNER, CHAT, "pause #9", delivery_key="k:refused") is None
    assert await count(store, "inbound_dedupe", "key = ?", "k:refused") == 1
