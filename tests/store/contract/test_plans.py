"""`store.plans` and the plan ops: versions, supersession, approvals, items, modifications."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.errors import Conflict, StoreError
from core.models import (
    Approval,
    Decision,
    ItemStatus,
    Member,
    ModAction,
    PlanMessageRef,
    PlanModification,
    PlanStatus,
    Role,
    new_id,
)
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, new_session, plan_record


def _modification(session_id: str, plan_id: str, n: int, minutes: int = 0) -> PlanModification:
    return PlanModification(
        new_id(), session_id, plan_id, 1, "ivan", ModAction.COMMENT, f"note {n}",
        NOW + timedelta(minutes=minutes),
    )  # fmt: skip


async def test_a_plan_reads_back_with_items_by_position(store: Store) -> None:
    session = await new_session(store)
    plan = plan_record(session.id, expires_at=NOW + timedelta(hours=2))
    await store.apply([ops.NewPlan(plan)])
    found = await store.plans.get(plan.id)
    assert found is not None
    assert [(i.position, i.title, i.assignee, i.status) for i in found.items] == [
        (1, "first", "ivan", ItemStatus.IN_PROGRESS), (2, "second", None, ItemStatus.TODO),
    ]  # fmt: skip
    plan.items.sort(key=lambda i: i.position)
    assert found == plan
    assert await store.plans.current(session.id) == plan
    assert await store.plans.get("no-such-plan") is None
    assert await store.plans.current("no-such-session") is None
    assert await store.plans.of_session("no-such-session") == []


async def test_a_new_plan_supersedes_the_current_one_whatever_its_status(store: Store) -> None:
    session = await new_session(store)
    first = plan_record(session.id, 1)
    second = plan_record(session.id, 2, submitted_by="ivan")
    third = plan_record(session.id, 3, submitted_by="zoe")
    await store.apply([ops.NewPlan(first)])
    decided = {"status": "approved", "decided_by": "olga", "decided_at": NOW}
    await store.apply([ops.UpdatePlan(first.id, 1, decided)])
    await store.apply([ops.NewPlan(second)])
    await store.apply([ops.NewPlan(third)])
    plans = await store.plans.of_session(session.id)
    assert [(p.version, p.status, p.superseded_by, p.superseded_at, p.row_version)
            for p in plans] == [
        (1, PlanStatus.SUPERSEDED, "ivan", second.submitted_at, 3),
        (2, PlanStatus.SUPERSEDED, "zoe", third.submitted_at, 2),
        (3, PlanStatus.PENDING, None, None, 1),
    ]  # fmt: skip
    assert (plans[0].decided_by, plans[0].decided_at) == ("olga", NOW), "its decision is kept"
    current = await store.plans.current(session.id)
    assert current is not None and current.id == third.id


async def test_a_second_plan_with_a_taken_version_is_refused(store: Store) -> None:
    session = await new_session(store)
    first = plan_record(session.id, 1)
    await store.apply([ops.NewPlan(first)])
    with pytest.raises(StoreError):
        await store.apply([ops.NewPlan(plan_record(session.id, 1))])
    plans = await store.plans.of_session(session.id)
    assert [(p.id, p.status, p.row_version) for p in plans] == [(first.id, PlanStatus.PENDING, 1)]


async def test_update_plan_is_a_compare_and_set_on_the_row_version(store: Store) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    assert await store.apply([ops.UpdatePlan(plan.id, 1, {"required_approvals": 2})]) == [2]
    with pytest.raises(Conflict):
        await store.apply([ops.UpdatePlan(plan.id, 1, {"required_approvals": 3})])
    with pytest.raises(Conflict):
        await store.apply([ops.UpdatePlan(plan.id, 2, {"status": "approved"}, "rejected")])
    with pytest.raises(Conflict):
        await store.apply([ops.UpdatePlan("no-such-plan", 1, {"status": "approved"})])
    with pytest.raises(ValueError, match="not updatable"):
        await store.apply([ops.UpdatePlan(plan.id, 2, {"content_hash": "forged"})])
    found = await store.plans.get(plan.id)
    assert found is not None
    assert (found.required_approvals, found.status, found.row_version) == (
        2, PlanStatus.PENDING, 2,
    )  # fmt: skip


async def test_two_stores_deciding_one_plan_concurrently_make_one_decision(
    store: Store, second: Store
) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    outcomes = await asyncio.gather(
        *(
            target.apply(
                [ops.UpdatePlan(plan.id, 1, {"status": status, "decided_by": who}, "pending")]
            )
            for target, status, who in (
                (store, "approved", "olga"), (second, "rejected", "ivan"),
                (store, "rejected", "zoe"), (second, "approved", "bob"),
            )
        ),
        return_exceptions=True,
    )  # fmt: skip
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [[2]], outcomes
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3, outcomes
    found = await store.plans.get(plan.id)
    assert found is not None and found.row_version == 2
    winner = next(i for i, o in enumerate(outcomes) if o == [2])
    assert found.decided_by == ("olga", "ivan", "zoe", "bob")[winner]


async def test_an_approval_is_one_row_per_person_the_latest_decision(store: Store) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    later = NOW + timedelta(minutes=3)
    await store.apply(
        [
            ops.PutApproval(Approval(plan.id, "zoe", Decision.APPROVE, "hash-1", later)),
            ops.PutApproval(Approval(plan.id, "ivan", Decision.APPROVE, "hash-1", NOW)),
            ops.PutApproval(Approval(plan.id, "bob", Decision.APPROVE, "hash-1", later)),
        ]
    )
    await store.apply(
        [ops.PutApproval(Approval(plan.id, "ivan", Decision.REJECT, "hash-2", later, "no"))]
    )
    found = await store.plans.get(plan.id)
    assert found is not None
    assert [(a.user_id, a.decision, a.content_hash, a.reason) for a in found.approvals] == [
        ("bob", Decision.APPROVE, "hash-1", None),
        ("ivan", Decision.REJECT, "hash-2", "no"),
        ("zoe", Decision.APPROVE, "hash-1", None),
    ]


async def test_update_plan_item_changes_one_item_and_a_missing_one_conflicts(
    store: Store,
) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    comments = [{"by": "ivan", "text": "done?"}]
    await store.apply(
        [ops.UpdatePlanItem(plan.id, 2, {"status": "done", "comments": comments, "ticket": "T-1"})]
    )
    with pytest.raises(Conflict):
        await store.apply([ops.UpdatePlanItem(plan.id, 9, {"status": "done"})])
    with pytest.raises(ValueError, match="not updatable"):
        await store.apply([ops.UpdatePlanItem(plan.id, 1, {"position": 5})])
    found = await store.plans.get(plan.id)
    assert found is not None
    assert [(i.position, i.status, i.ticket, i.comments) for i in found.items] == [
        (1, ItemStatus.IN_PROGRESS, None, []), (2, ItemStatus.DONE, "T-1", comments),
    ]  # fmt: skip


async def test_plan_messages_are_remembered_once(store: Store) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    for _ in range(2):
        await store.plans.add_message(plan.id, platform="slack", channel_id="C1", message_ref="1.2")
    await store.plans.add_message(plan.id, platform="slack", channel_id="C1", message_ref="1.3")
    found = await store.plans.get(plan.id)
    assert found is not None
    assert sorted(found.messages, key=lambda m: m.message_ref) == [
        PlanMessageRef("slack", "C1", "1.2"), PlanMessageRef("slack", "C1", "1.3"),
    ]  # fmt: skip


async def test_modifications_come_in_time_then_insertion_order(store: Store) -> None:
    session = await new_session(store)
    one, two = plan_record(session.id, 1), plan_record(session.id, 2)
    await store.apply([ops.NewPlan(one), ops.NewPlan(two)])
    late = _modification(session.id, one.id, 0, minutes=5)
    same_time = [_modification(session.id, one.id, n) for n in (3, 1, 2)]
    other = _modification(session.id, two.id, 9, minutes=1)
    await store.apply([ops.AddModification(m) for m in (late, *same_time, other)])
    assert await store.plans.modifications(one.id) == [*same_time, late]
    assert await store.plans.modifications_of_session(session.id) == [*same_time, other, late]
    assert await store.plans.modifications("no-such-plan") == []
    assert await store.plans.modifications_of_session("no-such-session") == []


async def test_a_modification_result_is_processed_or_an_error(store: Store) -> None:
    session = await new_session(store)
    plan = plan_record(session.id)
    ok, bad = _modification(session.id, plan.id, 1), _modification(session.id, plan.id, 2)
    await store.apply([ops.NewPlan(plan), ops.AddModification(ok), ops.AddModification(bad)])
    later = NOW + timedelta(minutes=1)
    await store.plans.set_modification_result(ok.id, now=later, error=None)
    await store.plans.set_modification_result(bad.id, now=later, error="no such item")
    await store.plans.set_modification_result("no-such-modification", now=later, error=None)
    found = {m.id: m for m in await store.plans.modifications(plan.id)}
    assert (found[ok.id].processed, found[ok.id].processed_at, found[ok.id].error) == (
        True, later, None,
    )  # fmt: skip
    assert (found[bad.id].processed, found[bad.id].processed_at, found[bad.id].error) == (
        False, None, "no such item",
    )  # fmt: skip


async def test_approval_latencies_count_decisions_by_a_person_in_the_window(store: Store) -> None:
    general = await new_session(store)
    random = await new_session(store, channel_id="random")
    elsewhere = await new_session(store, workspace=OTHER_WS)
    submitted = NOW + timedelta(minutes=1)  # plan_record(…, 1) submits at NOW + 1 min

    async def decided(session_id: str, minutes: int, by: str | None) -> None:
        plan = plan_record(session_id)
        changes = {"decided_at": submitted + timedelta(minutes=minutes), "decided_by": by}
        await store.apply([ops.NewPlan(plan), ops.UpdatePlan(plan.id, 1, changes)])

    await decided(general.id, 10, "olga")
    await decided(random.id, 20, "ivan")
    await decided(elsewhere.id, 30, "olga")
    expired = plan_record(general.id, 2)  # decided by no one: expired
    await store.apply(
        [ops.NewPlan(expired), ops.UpdatePlan(expired.id, 1, {"decided_at": submitted})]
    )
    start, end = submitted + timedelta(minutes=10), submitted + timedelta(minutes=20)

    async def latencies(since: object, until: object, channel: str | None = None) -> list[int]:
        found = await store.plans.approval_latencies(
            WS,
            since=since,
            until=until,
            channel_id=channel,  # type: ignore[arg-type]
        )
        return sorted(int(d.total_seconds() // 60) for d in found)

    assert await latencies(NOW, end) == [10, 20]
    assert await latencies(start, end) == [20], "since is exclusive, until inclusive"
    assert await latencies(NOW, end - timedelta(microseconds=1)) == [10]
    assert await latencies(NOW, end, "random") == [20]
    assert await latencies(NOW, end, "nowhere") == []


async def test_two_stores_recording_one_persons_decision_keep_one_row(
    store: Store, second: Store
) -> None:
    session = await new_session(store)
    plans = [plan_record(session.id, v) for v in range(1, 6)]
    await store.apply([ops.NewPlan(p) for p in plans])
    await asyncio.gather(
        *(
            target.apply([ops.PutApproval(Approval(p.id, "ivan", decision, p.content_hash, NOW))])
            for p in plans
            for target, decision in ((store, Decision.APPROVE), (second, Decision.REJECT))
        )
    )
    for p in plans:
        found = await second.plans.get(p.id)
        assert found is not None and [a.user_id for a in found.approvals] == ["ivan"]


async def test_plans_submitted_at_once_by_two_stores_leave_one_current_plan(
    store: Store, second: Store
) -> None:
    # The op alone, without the service's compare-and-set on the session beside it: each new
    # plan supersedes whatever is current when it commits, so one current plan remains.
    sessions = [await new_session(store) for _ in range(20)]
    await store.apply([ops.NewPlan(plan_record(s.id, 1)) for s in sessions])
    await asyncio.gather(
        *(
            target.apply([ops.NewPlan(plan_record(s.id, version))])
            for s in sessions
            for target, version in ((store, 2), (second, 3))
        )
    )
    for s in sessions:
        plans = await store.plans.of_session(s.id)
        current = [p.version for p in plans if p.status is not PlanStatus.SUPERSEDED]
        assert len(current) == 1, (s.ref, [(p.version, p.status.value) for p in plans])


async def test_shown_reads_a_session_its_members_and_latest_plan_as_the_single_reads_do(
    store: Store,
) -> None:
    later = NOW + timedelta(minutes=5)
    members = (
        Member("zoe", Role.APPROVER, "olga", later),
        Member("amy", Role.EDITOR, "olga", later),
        Member("bob", Role.VIEWER),  # no added_at: listed first
    )
    session = await new_session(store, *members)
    bare = await new_session(store)
    await new_session(store, workspace=OTHER_WS)
    first, second = plan_record(session.id, 1), plan_record(session.id, 2)
    await store.apply([ops.NewPlan(first)])
    await store.apply([ops.NewPlan(second)])
    await store.apply(
        [ops.PutApproval(Approval(second.id, "zoe", Decision.APPROVE, "hash-2", NOW))]
    )
    await store.plans.add_message(second.id, platform="slack", channel_id="C1", message_ref="1.2")

    for ref in (str(session.ref), session.id):
        found = await store.plans.shown(WS, ref)
        assert found is not None
        shown, listed, plan = found
        assert shown == await store.sessions.get(WS, ref)
        assert listed == await store.sessions.members(session.id)
        assert [m.user_id for m in listed] == ["bob", "olga", "amy", "zoe"]
        assert plan == await store.plans.current(session.id)
        assert plan is not None and plan.version == 2
        assert [a.user_id for a in plan.approvals] == ["zoe"] and len(plan.messages) == 1
    assert await store.plans.shown(WS, str(bare.ref)) == (
        bare,
        await store.sessions.members(bare.id),
        None,
    )
    assert await store.plans.shown(OTHER_WS, session.id) is None, "another workspace's"
    assert await store.plans.shown(WS, "999") is None
    assert await store.plans.shown(WS, "no-such-id") is None
