"""Approvals: concurrent clicks decide once, N-of-M counts distinct people, plans supersede."""

from __future__ import annotations

import asyncio

from core.errors import Conflict
from core.models import Decision, EventType, OutboxKind, PlanStatus, Role
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")


async def _pending(services: Services, approvers: list[str], *, need: int = 1) -> str:
    session = await services.sessions.start(OWNER, CHAT, "race")
    for user in approvers:
        await services.members.share(OWNER, str(session.ref), user, role=Role.APPROVER)
    await services.plans.submit(OWNER, str(session.ref), ["one", "two"], need=need)
    return session.id


async def test_twenty_concurrent_decisions_make_exactly_one(
    services: Services, store: SqliteStore
) -> None:
    users = [f"u{i}" for i in range(20)]
    session_id = await _pending(services, users)
    plan = await store.plans.current(session_id)
    assert plan is not None

    async def click(i: int) -> object:
        decision = Decision.APPROVE if i % 2 else Decision.REJECT
        try:
            return await services.plans.decide(
                actor(users[i]), decision, plan_id=plan.id, reason="no"
            )
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(click(i) for i in range(20)))
    winners = [o for o in outcomes if not isinstance(o, Conflict)]
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 19
    decided = await store.plans.get(plan.id)
    assert decided is not None and decided.status in (PlanStatus.APPROVED, PlanStatus.REJECTED)
    for loser in losers:
        assert loser.decided_by == decided.decided_by
        assert f"<@{decided.decided_by}>" in loser.message
    decision_events = await count(
        store, "events", "session_id = ? AND type IN (?, ?)", session_id,
        EventType.PLAN_APPROVED.value, EventType.PLAN_REJECTED.value,
    )  # fmt: skip
    assert decision_events == 1
    assert await count(store, "approvals", "plan_id = ?", plan.id) == 1
    updates = await count(
        store, "outbox", "kind = ? AND dedupe_key = ?",
        OutboxKind.MESSAGE_UPDATE.value, f"decided:{plan.id}",
    )  # fmt: skip
    notices = await count(
        store, "outbox", "dedupe_key LIKE 'event:%' AND CAST(payload AS TEXT) LIKE ?",
        '%"plan_%ed"%',
    )  # fmt: skip
    assert updates == 1 and notices == 1


async def test_need_two_counts_distinct_people(services: Services, store: SqliteStore) -> None:
    session_id = await _pending(services, ["amy", "bob"], need=2)
    plan = await store.plans.current(session_id)
    assert plan is not None
    first = await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=plan.id)
    assert not first.settled and first.approvals == 1
    again = await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=plan.id)
    assert again.repeated and again.approvals == 1
    still = await store.plans.get(plan.id)
    assert still is not None and still.status is PlanStatus.PENDING
    assert len(still.approvals) == 1
    second = await services.plans.decide(actor("bob"), Decision.APPROVE, plan_id=plan.id)
    assert second.settled and second.plan.status is PlanStatus.APPROVED
    session = await store.sessions.by_id(session_id)
    assert session is not None and session.status.value == "active"


async def test_concurrent_approvals_of_a_need_two_plan_both_count(
    services: Services, store: SqliteStore
) -> None:
    session_id = await _pending(services, ["amy", "bob", "cat"], need=3)
    plan = await store.plans.current(session_id)
    assert plan is not None
    results = await asyncio.gather(
        *(
            services.plans.decide(actor(u), Decision.APPROVE, plan_id=plan.id)
            for u in ("amy", "bob", "cat")
        )
    )
    assert sum(r.settled for r in results) == 1
    final = await store.plans.get(plan.id)
    assert final is not None and final.status is PlanStatus.APPROVED
    assert final.approvers_of_current() == {"amy", "bob", "cat"}


async def test_new_plan_supersedes_and_needs_approval_again(
    services: Services, store: SqliteStore
) -> None:
    session_id = await _pending(services, ["amy", "bob"], need=2)
    first = await store.plans.current(session_id)
    assert first is not None
    await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=first.id)
    second = (await services.plans.submit(OWNER, session_id, ["one", "two", "three"], need=2)).plan
    old = await store.plans.get(first.id)
    assert old is not None and old.status is PlanStatus.SUPERSEDED
    assert second.version == 2 and second.status is PlanStatus.PENDING
    result = await services.plans.decide(actor("bob"), Decision.APPROVE, plan_id=second.id)
    assert not result.settled and result.approvals == 1
    assert await count(store, "outbox", "dedupe_key = ?", f"superseded:{first.id}") == 1
    try:
        await services.plans.decide(actor("amy"), Decision.APPROVE, plan_id=first.id)
    except Conflict as exc:
        assert "superseded" in exc.message
    else:
        raise AssertionError("a superseded plan was decided")


async def test_modifications_change_items_without_new_approval(
    services: Services, store: SqliteStore
) -> None:
    from core.models import ModAction

    session_id = await _pending(services, [])
    await services.plans.decide(OWNER, Decision.APPROVE, ref=session_id)
    await services.plans.modify(OWNER, session_id, 1, ModAction.STATUS_CHANGE, "done")
    await services.plans.modify(OWNER, session_id, 2, ModAction.REASSIGN, "amy")
    mod = (
        await services.plans.modify(OWNER, session_id, 2, ModAction.COMMENT, "halfway")
    ).modification
    plan = await store.plans.current(session_id)
    assert plan is not None and plan.status is PlanStatus.APPROVED and plan.version == 1
    assert plan.items[0].status.value == "done"
    assert plan.items[1].assignee == "amy" and plan.items[1].comments[0]["text"] == "halfway"
    recorded = await store.plans.modifications(plan.id)
    assert [m.action.value for m in recorded] == ["status_change", "reassign", "comment"]
    assert mod.processed and recorded[-1].processed
