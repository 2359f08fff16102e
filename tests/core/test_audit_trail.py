"""The audit trail is exact: who decided, who superseded, each decision once, one latency."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core import cards
from core.clock import ManualClock
from core.errors import Conflict
from core.history import export
from core.jobs import summaries
from core.models import Decision, ModAction, OutboxKind, PlanStatus, Role, Session
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, fetchall

OLGA, BOB, AMY = actor("olga"), actor("bob"), actor("amy")


async def _rejected_then_superseded(services: Services, clock: ManualClock) -> Session:
    """olga's plan v1, rejected by bob at 09:00:07; olga posts v2 at 09:01."""
    s = await services.sessions.start(OLGA, CHAT, "Deploy")
    await services.members.share(OLGA, s.id, "bob", role=Role.APPROVER)
    await services.plans.submit(OLGA, s.id, ["Back up", "Migrate"])
    clock.advance(7)
    await services.plans.decide(BOB, Decision.REJECT, ref=s.id, reason="too risky")
    clock.advance(53)
    await services.plans.submit(OLGA, s.id, ["Back up", "Migrate", "Verify"])
    return s


async def _markdown(services: Services, session: Session) -> str:
    history = services.history
    return "".join([c async for c in export.markdown_chunks(history, OLGA, session.id)])


async def test_supersession_is_credited_to_the_next_submitter_and_the_decision_is_kept(
    services: Services, clock: ManualClock, store: Store
):
    s = await _rejected_then_superseded(services, clock)
    old, new = await store.plans.of_session(s.id)
    assert old.status is PlanStatus.SUPERSEDED and old.settled_as is PlanStatus.REJECTED
    assert (old.decided_by, old.decision_reason) == ("bob", "too risky")
    assert (old.superseded_by, old.superseded_at) == ("olga", new.submitted_at)
    assert cards.decision_lines(old) == [
        "Rejected by <@bob> at 2026-01-05 09:00 UTC — too risky",
        "Superseded by <@olga> at 2026-01-05 09:01 UTC (plan v2).",
    ]
    # The old plan's message is edited to say both, not to lose the rejection.
    rows = await fetchall(
        store, "SELECT payload FROM outbox WHERE dedupe_key = ?", f"superseded:{old.id}"
    )
    payload = json.loads(rows[0][0]) if isinstance(rows[0][0], str) else rows[0][0]
    assert payload["blocks"][1:] == cards.decision_lines(old)
    # A late click hears who superseded it, not who decided it.
    with pytest.raises(Conflict) as late:
        await services.plans.decide(BOB, Decision.APPROVE, plan_id=old.id)
    assert late.value.message == (
        "Plan v1 was already superseded by plan v2 by <@olga> at 2026-01-05 09:01 UTC."
    )
    assert late.value.decided_by == "olga"


async def test_show_and_both_exports_attribute_the_rejection_and_the_supersession(
    services: Services, clock: ManualClock
):
    s = await services.sessions.start(OLGA, CHAT, "Deploy")
    await services.members.share(OLGA, s.id, "bob", role=Role.APPROVER)
    await services.plans.submit(OLGA, s.id, ["Back up"])
    clock.advance(7)
    await services.plans.decide(BOB, Decision.REJECT, ref=s.id, reason="too risky")
    detail = await services.sessions.show(OLGA, s.id)
    shown = cards.session_card(detail.session, detail.members, detail.plan, now=clock.now())
    assert shown.blocks[1:] == ["Rejected by <@bob> at 2026-01-05 09:00 UTC — too risky"]

    clock.advance(53)
    await services.plans.submit(OLGA, s.id, ["Back up", "Verify"])
    text = await _markdown(services, s)
    plan_v1 = text[text.index("## Plan v1") : text.index("## Plan v2")]
    assert plan_v1.splitlines() == [
        "## Plan v1 (superseded)",
        "",
        "1. [todo] Back up",
        "",
        "- **rejected** by @bob at 2026-01-05 09:00 UTC — too risky",
        "- **superseded** by @olga at 2026-01-05 09:01 UTC (plan v2)",
        "",
    ]
    assert "superseded by @bob" not in text and text.count("too risky") == 1

    history = services.history
    data = json.loads("".join([c async for c in export.json_chunks(history, OLGA, s.id)]))
    v1 = data["plans"][0]
    assert (v1["status"], v1["decided_by"], v1["decision_reason"]) == (
        "superseded", "bob", "too risky",
    )  # fmt: skip
    assert (v1["superseded_by"], v1["superseded_at"]) == ("olga", "2026-01-05T09:01:00+00:00")
    assert data["plans"][1]["superseded_by"] is None


async def test_each_decision_is_one_line_of_the_markdown_export(
    services: Services, clock: ManualClock
):
    s = await services.sessions.start(OLGA, CHAT, "Deploy")
    for who in ("bob", "amy"):
        await services.members.share(OLGA, s.id, who, role=Role.APPROVER)
    await services.plans.submit(OLGA, s.id, ["Back up"], need=2)
    clock.advance(60)
    await services.plans.decide(BOB, Decision.APPROVE, ref=s.id)
    clock.advance(60)
    await services.plans.decide(AMY, Decision.APPROVE, ref=s.id)
    text = await _markdown(services, s)
    decisions = [line for line in text.splitlines() if "approve" in line and " by @" in line]
    assert "## Plan v1 (approved)" in text
    assert decisions == [
        "- approved by @bob at 2026-01-05 09:01 UTC",
        "- **approved** by @amy at 2026-01-05 09:02 UTC",
    ]


async def test_item_comments_show_everywhere_and_item_changes_update_the_plan_message(
    services: Services, clock: ManualClock, store: Store
):
    s = await services.sessions.start(OLGA, CHAT, "Deploy")
    await services.plans.submit(OLGA, s.id, ["Back up", "Migrate"])
    await services.plans.decide(OLGA, Decision.APPROVE, ref=s.id)
    clock.advance(60)
    done = (
        await services.plans.modify(OLGA, s.id, 1, ModAction.STATUS_CHANGE, "done")
    ).modification
    await services.plans.modify(OLGA, s.id, 2, ModAction.COMMENT, "slow on replica")
    comment = "    💬 <@olga> at 2026-01-05 09:01 UTC: slow on replica"

    updates = await fetchall(
        store,
        "SELECT payload FROM outbox WHERE kind = ? AND dedupe_key = ?",
        OutboxKind.MESSAGE_UPDATE.value,
        f"modified:{done.id}",
    )
    payload = updates[0][0]
    view = json.loads(payload) if isinstance(payload, str) else payload
    assert view["blocks"][0] == "✅ 1. Back up\n⬜ 2. Migrate"

    detail = await services.sessions.show(OLGA, s.id)
    shown = cards.session_card(detail.session, detail.members, detail.plan, now=clock.now())
    assert shown.blocks[0].splitlines()[1:] == ["✅ 1. Back up", "⬜ 2. Migrate", comment]
    assert detail.plan is not None
    assert cards.plan_message(detail.session, detail.plan).blocks[0].splitlines()[2] == comment

    text = await _markdown(services, s)
    assert "2. [todo] Migrate\n    - comment by @olga at 2026-01-05 09:01 UTC: slow on replica" in (
        text
    )


async def test_stats_and_the_channel_summary_report_one_approval_latency(
    services: Services, clock: ManualClock
):
    """Latency is submission to a person's decision: 7 s (rejected, then superseded) and 35 s
    (approved); the expired plan and the pending-then-superseded one have none."""
    s = await _rejected_then_superseded(services, clock)  # v1: 7 s, v2 pending
    (_, v2) = await services.store.plans.of_session(s.id)
    clock.advance(600)
    await services.plans.expire(v2.id)  # no person decided: no latency
    clock.advance(60)
    v3 = (await services.plans.rerequest(OLGA, v2.id)).plan
    clock.advance(35)
    await services.plans.decide(BOB, Decision.APPROVE, plan_id=v3.id)
    other = await services.sessions.start(OLGA, CHAT, "Rollback")
    await services.plans.submit(OLGA, other.id, ["Undo"])
    await services.plans.submit(OLGA, other.id, ["Undo", "Check"])  # v1 superseded undecided

    stats = await services.workspace.stats(OLGA, days=1)
    clock.advance(60)  # a minute later, as the issue saw it
    summary = await summaries.now_view(services, actor("root", admin=True), CHAT.channel_id)
    assert stats.median_approval_latency == timedelta(seconds=21)
    assert {f.label: f.value for f in cards.stats_view(stats).fields}[
        "Median approval latency"
    ] == "21s"
    assert {f.label: f.value for f in summary.fields}["Median approval latency"] == "21s"
