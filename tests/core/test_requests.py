"""Agents' requests through the services: create, decide (N of M, edits, digests, self-approval,
high risk), answer, wait without polling, expire — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Conflict, Forbidden, LimitExceeded, UsageError
from core.jobs.sweep import sweep_due
from core.jsonlimits import TooDeep
from core.models import Decision, EventType, Role, Session
from core.records.requests import OnExpiry, RequestKind, RequestStatus, Risk, digest
from core.services.asks import Ask
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, count

AGENT, OWNER, ANA, BOB = actor("agent"), actor("owner"), actor("ana"), actor("bob")


def deploy(**kw: object) -> Ask:
    fields: dict[str, object] = {"action": "deploy", "args": {"service": "api", "version": "1.2"}}
    return Ask(RequestKind.ACTION, **(fields | kw))  # type: ignore[arg-type]


@pytest.fixture
async def session(services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, "release")
    for user, role in (("agent", Role.EDITOR), ("ana", Role.APPROVER), ("bob", Role.APPROVER)):
        await services.members.share(OWNER, str(s.ref), user, role=role)
    return s


async def test_an_approval_settles_the_request_and_is_in_the_audit_trail(
    services: Services, session: Session, store: Store
) -> None:
    request = await services.requests.create(AGENT, str(session.ref), deploy(summary="ship it"))
    assert request.status is RequestStatus.PENDING and request.need == 1
    assert request.digest == digest("deploy", {"service": "api", "version": "1.2"})
    outcome = await services.requests.decide(ANA, request.id, Decision.APPROVE)
    assert outcome.settled and outcome.request.status is RequestStatus.APPROVED
    stored = await store.requests.get(request.id)
    assert stored is not None and stored.status is RequestStatus.APPROVED
    assert stored.decided_by == "ana" and [v.user_id for v in stored.votes] == ["ana"]
    events = [e.type for e in reversed(await store.events.newest(session.id, limit=5))]
    assert events[-2:] == [EventType.REQUEST_CREATED, EventType.REQUEST_DECIDED]
    with pytest.raises(Conflict, match="already approved by <@ana>"):
        await services.requests.decide(BOB, request.id, Decision.REJECT)


async def test_twenty_racing_decisions_make_one(services: Services, session: Session) -> None:
    request = await services.requests.create(AGENT, str(session.ref), deploy())
    deciders = [actor(f"u{i}", admin=True) for i in range(20)]
    results = await asyncio.gather(
        *(
            services.requests.decide(a, request.id, Decision.APPROVE if i % 2 else Decision.REJECT)
            for i, a in enumerate(deciders)
        ),
        return_exceptions=True,
    )
    settled = [r for r in results if not isinstance(r, BaseException) and r.settled]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(settled) == 1 and len(refused) == 19
    winner = settled[0].request.decided_by
    assert all(e.decided_by == winner for e in refused)


async def test_n_of_m_counts_approvals_of_the_current_arguments_only(
    services: Services, session: Session, store: Store
) -> None:
    request = await services.requests.create(AGENT, str(session.ref), deploy(need=2))
    first = await services.requests.decide(ANA, request.id, Decision.APPROVE)
    assert (first.settled, first.approvals) == (False, 1)
    again = await services.requests.decide(ANA, request.id, Decision.APPROVE)
    assert again.repeated
    edited = {"service": "api", "version": "1.3"}
    second = await services.requests.decide(BOB, request.id, Decision.APPROVE, edited_args=edited)
    assert (second.settled, second.approvals) == (False, 1), "ana approved other arguments"
    with pytest.raises(Conflict, match="changed since it was shown"):
        await services.requests.decide(
            ANA, request.id, Decision.APPROVE, shown_digest=request.digest
        )
    done = await services.requests.decide(
        ANA, request.id, Decision.APPROVE, shown_digest=digest("deploy", edited)
    )
    assert done.settled and done.request.final_args == edited
    stored = await store.requests.get(request.id)
    assert stored is not None
    assert stored.args == {"service": "api", "version": "1.2"} and stored.edited_args == edited


async def test_who_may_decide(services: Services, session: Session) -> None:
    named = await services.requests.create(AGENT, str(session.ref), deploy(approvers=("bob",)))
    with pytest.raises(Forbidden):
        await services.requests.decide(ANA, named.id, Decision.APPROVE)
    with pytest.raises(Forbidden):
        await services.requests.decide(actor("stranger"), named.id, Decision.REJECT)
    own = await services.requests.create(OWNER, str(session.ref), deploy(risk=Risk.HIGH))
    with pytest.raises(Forbidden, match="your own request"):
        await services.requests.decide(OWNER, own.id, Decision.APPROVE, confirm="deploy")
    with pytest.raises(UsageError, match="type its name `deploy`"):
        await services.requests.decide(BOB, own.id, Decision.APPROVE)
    counted = await services.requests.decide(BOB, own.id, Decision.APPROVE, confirm="deploy")
    assert (counted.settled, counted.approvals, own.need) == (False, 1, 2)


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        (deploy(action="rm -rf"), "An action is a name"),
        (deploy(args={"blob": "x" * 20_000}), "args"),
        (deploy(risk=Risk.HIGH, on_expiry=OnExpiry.APPROVE), "never approved on expiry"),
        (deploy(need=3, approvers=("ana", "bob")), "only 2 approvers"),
        (deploy(expires_in=timedelta(seconds=5)), "expires_in"),
        (Ask(RequestKind.QUESTION, question="Which region?"), "needs choices"),
        (Ask(RequestKind.QUESTION, question="?", choices=("a", "a")), "differ"),
    ],
)
async def test_bad_requests_are_refused_and_change_nothing(
    services: Services, session: Session, store: Store, ask: Ask, message: str
) -> None:
    before = await count(store, "requests")
    with pytest.raises((UsageError, LimitExceeded), match=message):
        await services.requests.create(AGENT, str(session.ref), ask)
    assert await count(store, "requests") == before


async def test_arguments_nested_too_deep_are_refused(services: Services, session: Session) -> None:
    deep: dict[str, object] = {}
    for _ in range(20):
        deep = {"d": deep}
    with pytest.raises(TooDeep):
        await services.requests.create(AGENT, str(session.ref), deploy(args=deep))


async def test_a_question_is_answered_once_and_the_waiter_wakes(
    services: Services, session: Session
) -> None:
    question = await services.requests.create(
        AGENT,
        str(session.ref),
        Ask(RequestKind.QUESTION, question="Which region?", choices=("eu", "us"), free_text=True),
    )
    waiting = asyncio.create_task(services.requests.wait(AGENT, question.id, timedelta(seconds=30)))
    await asyncio.sleep(0)  # the waiter is watching before the answer commits
    assert not waiting.done()
    outcome = await services.requests.answer(OWNER, question.id, text="eu-west-1, please")
    answered = await asyncio.wait_for(waiting, 5)
    assert answered.status is RequestStatus.ANSWERED and answered.answer == "eu-west-1, please"
    assert answered.decided_by == "owner" and outcome.settled
    with pytest.raises(Conflict, match="already answered"):
        await services.requests.answer(ANA, question.id, choice=1)
    assert len(services.requests.waiters) == 0


async def test_a_wait_returns_the_pending_request_when_it_runs_out(
    services: Services, session: Session
) -> None:
    request = await services.requests.create(AGENT, str(session.ref), deploy())
    found = await services.requests.wait(AGENT, request.id, timedelta(0))
    assert found.status is RequestStatus.PENDING
    with pytest.raises(UsageError, match="wait is 0 to 60"):
        await services.requests.wait(AGENT, request.id, timedelta(seconds=61))


async def test_expiry_rejects_or_approves_a_low_risk_action_once(
    services: Services, session: Session, clock: ManualClock, store: Store
) -> None:
    hour = timedelta(hours=1)
    rejected = await services.requests.create(AGENT, str(session.ref), deploy(expires_in=hour))
    approved = await services.requests.create(
        AGENT, str(session.ref), deploy(expires_in=hour, on_expiry=OnExpiry.APPROVE)
    )
    assert (await sweep_due(services, clock.now())).requests_expired == 0
    clock.advance(hour)
    assert (await sweep_due(services, clock.now())).requests_expired == 2
    assert (await sweep_due(services, clock.now())).requests_expired == 0
    first, second = await store.requests.get(rejected.id), await store.requests.get(approved.id)
    assert first is not None and first.status is RequestStatus.EXPIRED
    assert second is not None and second.status is RequestStatus.APPROVED
    assert second.decided_by is None


async def test_the_request_message_is_posted_in_the_thread_and_updated_in_place(
    services: Services, session: Session, store: Store
) -> None:
    request = await services.requests.create(AGENT, str(session.ref), deploy())
    posted = [
        r for r in await store.outbox.rows(session_id=session.id) if r.target.get("request_id")
    ]
    assert [r.kind.value for r in posted] == ["channel_message"]
    assert posted[0].target["thread_of"] == session.id
    view = posted[0].payload
    assert [b["action_id"] for b in view["buttons"]] == [
        "request_approve",
        "request_edit",
        "request_reject",
    ]
    assert view["buttons"][0]["value"] == f"{request.id}_{request.digest}"
    await services.requests.decide(ANA, request.id, Decision.REJECT, reason="not today")
    rows = [r for r in await store.outbox.rows(session_id=session.id) if r.target.get("request_id")]
    assert [r.kind.value for r in rows] == ["channel_message", "message_update"]
    assert rows[1].payload["buttons"] == []
    assert "Rejected by <@ana> — not today" in rows[1].payload["blocks"]
