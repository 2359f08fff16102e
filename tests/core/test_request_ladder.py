"""The escalation ladder of agents' requests with a moved clock: reminders at 50 % and 80 % of
a request's time to the approvers who have not decided, escalation at expiry, each exactly
once — also with two processes sweeping one database at the same moment (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Conflict, UsageError
from core.jobs.sweep import sweep_due
from core.models import Decision, EventType, OutboxKind, Role, Session, WorkspaceSettings
from core.outbox import OutboxDispatcher
from core.records.requests import OnExpiry, Request, RequestKind, RequestStatus
from core.runner import CommandRunner
from core.services.asks import Ask
from core.settings import describe, effective_settings, parse_setting
from core.store.store import Store
from core.wiring import ServiceConfig, Services, build_services
from tests.conftest import CHAT, actor, count, opened_store
from tests.core import test_requests
from tests.core.test_outbox import RecordingChat
from tests.core.test_requests import deploy

AGENT, OWNER, ANA, BOB, CAROL = (actor(u) for u in ("agent", "owner", "ana", "bob", "carol"))
ROOT = actor("root")
HOUR = timedelta(hours=1)


session = test_requests.session  # the session of those tests: agent, ana and bob approvers


async def _reminded(store: Store, request: Request) -> list[tuple[str, list[str]]]:
    """Each ladder step sent for the request: its reminder key and who got a DM, in order."""
    rows = await store.outbox.rows(session_id=request.session_id)
    steps = []
    for row in rows:
        step = row.dedupe_key.removeprefix("reminder:")
        if row.kind is OutboxKind.CHANNEL_MESSAGE and step.startswith(f"auto_request:{request.id}"):
            dms = [
                r.target["user_id"]
                for r in rows
                if r.kind is OutboxKind.DM and r.dedupe_key.startswith(f"reminder-dm:{step}:")
            ]
            steps.append((step, sorted(dms)))
    return steps


async def test_reminders_at_half_and_four_fifths_reach_only_who_did_not_decide(
    services: Services, session: Session, clock: ManualClock, store: Store
) -> None:
    request = await services.requests.create(
        AGENT, str(session.ref), deploy(need=2, approvers=("ana", "bob"), expires_in=10 * HOUR)
    )
    await services.requests.decide(ANA, request.id, Decision.APPROVE)
    clock.advance(5 * HOUR - timedelta(seconds=1))
    assert (await sweep_due(services, clock.now())).request_reminders == 0
    clock.advance(timedelta(seconds=1))
    assert (await sweep_due(services, clock.now())).request_reminders == 1
    assert (await sweep_due(services, clock.now())).request_reminders == 0
    clock.advance(3 * HOUR - timedelta(seconds=1))
    assert (await sweep_due(services, clock.now())).request_reminders == 0
    clock.advance(timedelta(seconds=1))
    assert (await sweep_due(services, clock.now())).request_reminders == 1
    clock.advance(HOUR)
    assert (await sweep_due(services, clock.now())).request_reminders == 0
    base = f"auto_request:{request.id}:1"
    assert await _reminded(store, request) == [(f"{base}:50", ["bob"]), (f"{base}:80", ["bob"])]
    thread = [
        r
        for r in await store.outbox.rows(session_id=session.id)
        if r.dedupe_key == f"reminder:{base}:50"
    ]
    assert thread[0].target["thread_of"] == session.id
    assert "`deploy` waits for your decision" in thread[0].payload["title"]
    sent = await count(store, "events", "session_id = ? AND type = ?", session.id, "reminder_sent")
    assert sent == 2


async def test_without_named_approvers_the_sessions_deciders_are_reminded(
    services: Services, session: Session, clock: ManualClock, store: Store
) -> None:
    request = await services.requests.create(
        AGENT, str(session.ref), deploy(need=2, expires_in=10 * HOUR)
    )
    await services.requests.decide(BOB, request.id, Decision.APPROVE)
    clock.advance(9 * HOUR)  # the 50 % step was missed (the bot was down): 80 % replaces it
    assert (await sweep_due(services, clock.now())).request_reminders == 1
    # owner and approvers of the session and the configured admin; bob decided, the agent can't
    assert await _reminded(store, request) == [
        (f"auto_request:{request.id}:1:80", ["ana", "owner", "root"])
    ]


async def test_reminders_can_be_turned_off_per_workspace(
    services: Services, session: Session, clock: ManualClock, runner: CommandRunner, store: Store
) -> None:
    await runner.run(ROOT, CHAT, "settings remind_requests off")
    request = await services.requests.create(AGENT, str(session.ref), deploy(expires_in=HOUR))
    clock.advance(HOUR * 0.9)
    assert (await sweep_due(services, clock.now())).request_reminders == 0
    assert await _reminded(store, request) == []
    refused = await runner.run(ROOT, CHAT, "settings remind_requests maybe")
    assert refused is not None and "`on` or `off`" in refused.view.title


async def test_escalation_adds_approvers_posts_a_second_copy_and_extends_once(
    services: Services, session: Session, clock: ManualClock, runner: CommandRunner, store: Store
) -> None:
    await runner.run(ROOT, CHAT, "settings escalation_approvers @carol")
    await runner.run(ROOT, CHAT, "settings escalation_channel #escalations")
    await runner.run(ROOT, CHAT, "webhook add https://example.com/h request_escalated")
    request = await services.requests.create(
        AGENT,
        str(session.ref),
        deploy(approvers=("ana",), expires_in=2 * HOUR, on_expiry=OnExpiry.ESCALATE),
    )
    chat = RecordingChat()
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[chat], max_attempts=3)
    await dispatcher.drain()
    clock.advance(2 * HOUR)
    assert (await sweep_due(services, clock.now())).requests_expired == 1
    assert (await sweep_due(services, clock.now())).requests_expired == 0
    escalated = await store.requests.get(request.id)
    assert escalated is not None and escalated.status is RequestStatus.PENDING
    assert escalated.escalated and escalated.approvers == ["ana", "carol"]
    assert escalated.expires_at == request.created_at + 4 * HOUR
    events = await count(store, "events", "type = ?", EventType.REQUEST_ESCALATED.value)
    hooks = await count(store, "outbox", "kind = 'webhook'")
    assert (events, hooks) == (1, 1)
    await dispatcher.drain()
    posted = [p for p in chat.posts if p[0] == "escalations"]
    assert len(posted) == 1 and posted[0][1] is None, "top level in the escalation channel"
    assert [b.action_id for b in posted[0][2].buttons] == [
        "request_approve",
        "request_edit",
        "request_reject",
    ]
    assert any(line.startswith("Escalated") for line in posted[0][2].blocks)
    # round 2 of the ladder follows the extended deadline, to every approver now named
    clock.advance(HOUR)
    assert (await sweep_due(services, clock.now())).request_reminders == 1
    assert await _reminded(store, request) == [
        (f"auto_request:{request.id}:2:50", ["ana", "carol"])
    ]
    # carol decides: both copies are edited in place
    outcome = await services.requests.decide(CAROL, request.id, Decision.REJECT, reason="no")
    assert outcome.settled
    chat.updates.clear()
    await dispatcher.drain()
    shown = (await store.requests.get(request.id)).messages  # type: ignore[union-attr]
    assert {m.channel_id for m in shown} == {"general", "escalations"}
    assert sorted(ref for ref, _ in chat.updates) == sorted(m.message_ref for m in shown)
    assert all(view.buttons == [] for _, view in chat.updates)


async def test_a_second_expiry_of_an_escalated_request_rejects_it(
    services: Services, session: Session, clock: ManualClock, store: Store
) -> None:
    request = await services.requests.create(
        AGENT, str(session.ref), deploy(expires_in=HOUR, on_expiry=OnExpiry.ESCALATE)
    )
    clock.advance(HOUR)
    await sweep_due(services, clock.now())
    escalated = await store.requests.get(request.id)
    assert escalated is not None and escalated.escalated
    assert escalated.approvers == ["ana", "bob", "owner", "root"], "who could decide, kept"
    clock.advance(HOUR)
    assert (await sweep_due(services, clock.now())).requests_expired == 1
    final = await store.requests.get(request.id)
    assert final is not None and final.status is RequestStatus.EXPIRED
    kinds = [e.type for e in reversed(await store.events.newest(session.id, limit=3))]
    assert kinds[-2:] == [EventType.REQUEST_ESCALATED, EventType.REQUEST_EXPIRED]


async def test_a_sweep_that_listed_a_request_before_another_escalated_it_leaves_it_alone(
    services: Services, session: Session, clock: ManualClock, store: Store
) -> None:
    """Two replicas list the same due request; one escalates it first. The other's expiry
    reads it fresh, finds its time extended and changes nothing (it used to reject it)."""
    request = await services.requests.create(
        AGENT, str(session.ref), deploy(expires_in=HOUR, on_expiry=OnExpiry.ESCALATE)
    )
    clock.advance(HOUR)
    (listed,) = await store.requests.due(clock.now(), limit=10)  # the late replica's list
    assert (await sweep_due(services, clock.now())).requests_expired == 1  # escalated
    with pytest.raises(Conflict, match="not run out"):
        await services.requests.expire(listed.id, clock.now())
    after = await store.requests.get(request.id)
    assert after is not None and after.escalated and after.status is RequestStatus.PENDING
    assert await count(store, "events", "type = ?", EventType.REQUEST_EXPIRED.value) == 0


async def test_an_escalated_question_may_be_answered_by_an_escalation_approver(
    services: Services, session: Session, clock: ManualClock, runner: CommandRunner
) -> None:
    await runner.run(ROOT, CHAT, "settings escalation_approvers @carol")
    question = await services.requests.create(
        AGENT,
        str(session.ref),
        Ask(
            RequestKind.QUESTION,
            question="Which region?",
            choices=("eu", "us"),
            expires_in=HOUR,
            on_expiry=OnExpiry.ESCALATE,
        ),
    )
    clock.advance(HOUR)
    await sweep_due(services, clock.now())
    outcome = await services.requests.answer(CAROL, question.id, choice=1)
    assert outcome.request.answer == "eu" and outcome.request.decided_by == "carol"


async def test_two_processes_sweeping_at_once_send_each_step_once(
    db_url: str, store: Store, clock: ManualClock
) -> None:
    async with opened_store(db_url) as other:
        config = ServiceConfig(admins=frozenset({"root"}))
        one = build_services(store, clock=clock, config=config)
        two = build_services(other, clock=clock, config=config)
        await one.settings.put(CHAT.workspace, "escalation_approvers", "@carol")
        await one.settings.put(CHAT.workspace, "escalation_channel", "escalations")
        s = await one.sessions.start(OWNER, CHAT, "release")
        await one.members.share(OWNER, str(s.ref), "ana", role=Role.APPROVER)
        request = await one.requests.create(
            OWNER,
            str(s.ref),
            deploy(approvers=("ana",), expires_in=10 * HOUR, on_expiry=OnExpiry.ESCALATE),
        )

        async def sweep_both() -> list[int]:
            reports = await asyncio.gather(*(sweep_due(p, clock.now()) for p in (one, two) * 3))
            return [r.request_reminders + r.requests_expired for r in reports]

        for step in (5 * HOUR, 3 * HOUR, 2 * HOUR, 5 * HOUR, 3 * HOUR):
            clock.advance(step)
            assert sum(await sweep_both()) == 1
        reminders = await count(store, "reminders", "id LIKE ?", f"auto_request:{request.id}:%")
        dms = await count(store, "outbox", "kind = 'dm'")
        escalated = await count(store, "events", "type = ?", EventType.REQUEST_ESCALATED.value)
        posts = await count(
            store, "outbox", "dedupe_key = ?", f"request:{request.id}:in:escalations"
        )
        assert (reminders, dms, escalated, posts) == (4, 2 + 4, 1, 1)
        final = await other.requests.get(request.id)
        assert final is not None and final.escalated and final.status is RequestStatus.PENDING
        clock.advance(2 * HOUR)  # the extended deadline: rejected, once
        assert sum(await sweep_both()) == 1
        final = await store.requests.get(request.id)
        assert final is not None and final.status is RequestStatus.EXPIRED


def test_escalation_settings_take_people_and_channels_as_they_are_written() -> None:
    slack = "slack:T9"
    people = parse_setting("escalation_approvers", "<@U0CAROL|carol>, <@U0DAN>", workspace=slack)
    assert people == ["U0CAROL", "U0DAN"]
    assert parse_setting("escalation_channel", "<#C0ESC|escalations>", workspace=slack) == "C0ESC"
    assert parse_setting("escalation_channel", "none", workspace=slack) is None
    for bad in ("<@U0CAROL>", "#", "two words"):
        with pytest.raises(UsageError, match="not a channel"):
            parse_setting("escalation_channel", bad, workspace=slack)
    with pytest.raises(UsageError, match="not a slack user id"):
        parse_setting("escalation_approvers", "@carol", workspace=slack)
    shown = describe(effective_settings(WorkspaceSettings(), {"escalation_approvers": people}))
    assert (shown["escalation_approvers"], shown["escalation_channel"]) == (
        "U0CAROL, U0DAN",
        "none",
    )
