"""`/session requests`, `answer`, and `approve` / `reject` by a request's id, through the real
runner on SQLite and PostgreSQL: what each person may decide, refusals that change nothing, and
the request counts of `/session stats` and the channel summary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.jobs import summaries
from core.jobs.sweep import sweep_due
from core.models import Actor, ChatRef, Decision, Role, Session
from core.records.requests import OnExpiry, Request, RequestKind, RequestStatus, Risk
from core.runner import CommandRunner
from core.services.asks import Ask
from core.store.store import Store
from core.views import Reply, View
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, WS, actor, count
from tests.core.test_requests import AGENT, ANA, BOB, OWNER, deploy

ROOT, STRANGER = actor("root"), actor("stranger")
UNKNOWN_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def question(**kw: object) -> Ask:
    fields: dict[str, object] = {"question": "Which region?", "choices": ("eu", "us")}
    return Ask(RequestKind.QUESTION, **(fields | kw))  # type: ignore[arg-type]


def text(view: View) -> str:
    return view.plain_text()


def fields(view: View) -> dict[str, str]:
    return {f.label: f.value for f in view.fields}


async def run(runner: CommandRunner, who: Actor, line: str, chat: ChatRef = CHAT) -> Reply:
    reply = await runner.run(who, chat, line)
    assert reply is not None
    return reply


@pytest.fixture
async def session(services: Services) -> Session:
    """#1, with the people of tests/core/test_requests.py: agent edits, ana and bob approve."""
    s = await services.sessions.start(OWNER, CHAT, "release")
    for who, role in ((AGENT, Role.EDITOR), (ANA, Role.APPROVER), (BOB, Role.APPROVER)):
        await services.members.share(OWNER, "1", who.user_id, role=role)
    return s


async def ask(services: Services, session: Session, what: Ask, clock: ManualClock) -> Request:
    clock.advance(timedelta(seconds=1))  # distinct creation times: the listing is oldest first
    return await services.requests.create(AGENT, str(session.ref), what)


async def unchanged(store: Store, request: Request) -> None:
    """Nothing was decided: the request is still pending, as it was, with no vote."""
    stored = await store.requests.get(request.id)
    assert stored is not None and stored.status is RequestStatus.PENDING
    assert stored.row_version == request.row_version and stored.votes == []


async def test_requests_without_a_ref_lists_what_each_person_may_decide_oldest_first(
    runner: CommandRunner, services: Services, session: Session, clock: ManualClock
) -> None:
    free = await ask(services, session, deploy(), clock)
    named = await ask(services, session, deploy(action="migrate", approvers=("bob",)), clock)
    asked = await ask(services, session, question(), clock)
    other = await services.sessions.start(actor("zed"), CHAT, "elsewhere")
    await services.members.share(actor("zed"), str(other.ref), "agent", role=Role.EDITOR)
    theirs = await ask(services, other, deploy(action="restart"), clock)

    def listed(reply: Reply) -> list[str]:
        ids = (free.id, named.id, asked.id, theirs.id)
        return [i for line in reply.view.blocks for i in ids if line.startswith(i)]

    assert listed(await run(runner, ANA, "requests")) == [free.id]
    assert listed(await run(runner, BOB, "requests")) == [free.id, named.id]
    assert listed(await run(runner, OWNER, "requests")) == [free.id, asked.id]
    everything = await run(runner, ROOT, "requests")
    assert listed(everything) == [free.id, named.id, asked.id, theirs.id]
    assert everything.ephemeral and "#2" in everything.view.blocks[-1]
    assert "Which region? (1. eu 2. us)" in text(everything.view)
    assert "`/session answer <id> <text…>`" in text(everything.view)
    assert (await run(runner, STRANGER, "requests")).view.title == "No requests are waiting for you"
    await services.requests.decide(ANA, free.id, Decision.APPROVE)
    assert listed(await run(runner, BOB, "requests")) == [named.id]


async def test_requests_lists_the_oldest_twenty_and_says_how_many_wait(
    runner: CommandRunner, services: Services, session: Session, clock: ManualClock
) -> None:
    made = [await ask(services, session, deploy(action=f"step{n}"), clock) for n in range(22)]
    reply = await run(runner, ANA, "requests")
    assert [line.split(" · ")[0] for line in reply.view.blocks[:20]] == [r.id for r in made[:20]]
    assert reply.view.blocks[20] == "… the oldest 20 of 22 shown."
    assert reply.view.title == "Requests waiting for you (22)"


async def test_requests_of_a_session_pending_or_all(
    runner: CommandRunner, services: Services, session: Session, clock: ManualClock
) -> None:
    first = await ask(services, session, deploy(), clock)
    second = await ask(services, session, deploy(action="migrate", risk=Risk.HIGH), clock)
    await services.requests.decide(ANA, first.id, Decision.REJECT, reason="not today")
    pending = await run(runner, STRANGER, "requests 1")
    assert pending.view.title == "Pending requests of #1 release (1)"
    assert pending.view.blocks == [f"{second.id} · `migrate` · high risk · by <@agent>"]
    every = await run(runner, STRANGER, "requests #1 status:all")
    assert every.view.blocks == [
        f"{first.id} · `deploy` · rejected · by <@agent>",
        f"{second.id} · `migrate` · high risk · pending · by <@agent>",
    ]
    missing = await run(runner, ANA, "requests 9")
    assert missing.view.kind == "error" and "No session #9" in missing.view.title


async def test_approve_and_reject_take_a_request_id_and_a_session_ref_still_means_the_plan(
    runner: CommandRunner, services: Services, session: Session, store: Store, clock: ManualClock
) -> None:
    shipped = await ask(services, session, deploy(), clock)
    approved = await run(runner, ANA, f"approve {shipped.id.upper()}")
    assert not approved.ephemeral and "Approved by <@ana>" in text(approved.view)
    stopped = await ask(services, session, deploy(action="migrate"), clock)
    no_reason = await run(runner, BOB, f"reject {stopped.id}")
    assert "Say why: the agent receives the reason." in text(no_reason.view)
    await unchanged(store, stopped)
    rejected = await run(runner, BOB, f"reject {stopped.id} wrong version")
    assert "Rejected by <@bob> — wrong version" in text(rejected.view)
    found = await store.requests.get(stopped.id)
    assert found is not None and (found.status, found.reason) == (
        RequestStatus.REJECTED,
        "wrong version",
    )
    await run(runner, OWNER, "plan 1 Back up; Migrate")
    plan = await run(runner, ANA, "approve 1")
    assert not plan.ephemeral and plan.view.kind != "error"
    assert (await services.sessions.find(OWNER, "1")).status.value == "active"


async def test_a_high_risk_approval_needs_the_action_name_typed(
    runner: CommandRunner, services: Services, session: Session, store: Store, clock: ManualClock
) -> None:
    risky = await ask(services, session, deploy(risk=Risk.HIGH), clock)
    explained = await run(runner, ANA, f"approve {risky.id}")
    assert f"`/session approve {risky.id} confirm:deploy`" in text(explained.view)
    assert explained.ephemeral
    wrong = await run(runner, ANA, f"approve {risky.id} confirm:deplo")
    assert "type its name `deploy`" in text(wrong.view)
    await unchanged(store, risky)
    counted = await run(runner, ANA, f"approve {risky.id} confirm:deploy")
    assert "approval counted for `deploy`: 1/2" in text(counted.view)
    done = await run(runner, BOB, f"approve {risky.id} confirm:deploy")
    assert "Approved by <@bob>" in text(done.view)


async def test_refusals_come_from_the_service_and_change_nothing(
    runner: CommandRunner, services: Services, session: Session, store: Store, clock: ManualClock
) -> None:
    named = await ask(services, session, deploy(approvers=("bob",)), clock)
    refused = await run(runner, ANA, f"approve {named.id}")
    assert "You can't decide this request: you need to be one of <@bob>" in text(refused.view)
    await unchanged(store, named)
    own = await services.requests.create(OWNER, "1", deploy(risk=Risk.HIGH, action="drop"))
    selfish = await run(runner, OWNER, f"approve {own.id} confirm:drop")
    assert "this workspace forbids approving your own request" in text(selfish.view)
    await unchanged(store, own)
    await run(runner, BOB, f"approve {named.id}")
    late = await run(runner, BOB, f"reject {named.id} too late")
    assert "This request was already approved by <@bob>" in text(late.view)


async def test_answer_in_words_or_by_a_choice(
    runner: CommandRunner, services: Services, session: Session, store: Store, clock: ManualClock
) -> None:
    free = await ask(services, session, question(free_text=True), clock)
    worded = await run(runner, OWNER, f"answer {free.id} eu, then us")
    assert not worded.ephemeral and "Answered by <@owner>: eu, then us" in text(worded.view)
    chosen = await ask(services, session, question(), clock)
    picked = await run(runner, AGENT, f"answer {chosen.id} choice:2")
    assert "Answered by <@agent>: us" in text(picked.view)
    stored = await store.requests.get(chosen.id)
    assert stored is not None and (stored.answer, stored.decided_by) == ("us", "agent")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("answer {question} choice:3", "Choose a number from 1 to 2."),
        ("answer {question} in words", "answered by choosing one of its choices"),
        ("answer {action} yes", "An action is approved or rejected, not answered."),
        ("answer 1 yes", "`1` is a session ref; give the request's full id"),
        (f"answer {UNKNOWN_ID} yes", f"No request {UNKNOWN_ID} in this workspace."),
        ("approve {question}", "A question is answered, not approved: use `answer`."),
        (f"approve {UNKNOWN_ID}", f"No session or request {UNKNOWN_ID} in this workspace."),
        (f"reject {UNKNOWN_ID} no", f"No session or request {UNKNOWN_ID} in this workspace."),
        ("approve 1 confirm:deploy", "`confirm:` is for a high-risk request"),
    ],
)
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    runner: CommandRunner,
    services: Services,
    session: Session,
    store: Store,
    clock: ManualClock,
    line: str,
    message: str,
) -> None:
    asked = await ask(services, session, question(), clock)
    action = await ask(services, session, deploy(), clock)
    events = await count(store, "events")
    reply = await run(runner, OWNER, line.format(question=asked.id, action=action.id))
    assert reply.view.kind == "error" and reply.ephemeral
    assert message in text(reply.view)
    for request in (asked, action):
        await unchanged(store, request)
    assert await count(store, "events") == events


async def test_a_request_of_another_workspace_is_not_found(
    runner: CommandRunner, services: Services, clock: ManualClock
) -> None:
    elsewhere = actor("owner", OTHER_WS)
    s = await services.sessions.start(elsewhere, ChatRef("console", OTHER_WS, "general"), "x")
    theirs = await services.requests.create(elsewhere, str(s.ref), deploy())
    for line in (f"approve {theirs.id}", f"answer {theirs.id} yes", f"reject {theirs.id} no"):
        reply = await run(runner, ROOT, line)
        assert reply.view.kind == "error" and theirs.id in reply.view.title
    assert (await run(runner, ROOT, "requests")).view.title == "No requests are waiting for you"


async def test_stats_and_the_channel_summary_count_requests_and_their_decision_latency(
    runner: CommandRunner, services: Services, session: Session, clock: ManualClock
) -> None:
    start = clock.now()
    approved = await ask(services, session, deploy(), clock)
    rejected = await ask(services, session, deploy(action="migrate"), clock)
    answered = await ask(services, session, question(), clock)
    await ask(services, session, deploy(action="wait", expires_in=timedelta(hours=2)), clock)
    await ask(services, session, deploy(action="auto", expires_in=timedelta(hours=2),
                                        on_expiry=OnExpiry.APPROVE), clock)  # fmt: skip
    await ask(services, session, deploy(action="later"), clock)  # still pending
    clock.advance(timedelta(minutes=10))
    await services.requests.decide(ANA, approved.id, Decision.APPROVE)
    clock.advance(timedelta(minutes=10))
    await services.requests.decide(ANA, rejected.id, Decision.REJECT, reason="no")
    clock.advance(timedelta(minutes=10))
    await services.requests.answer(OWNER, answered.id, choice=1)
    clock.advance(timedelta(hours=2))
    assert (await sweep_due(services, clock.now())).requests_expired == 2
    elsewhere = await services.sessions.start(OWNER, ChatRef("console", WS, "ops"), "other")
    await services.requests.create(OWNER, str(elsewhere.ref), deploy())

    stats = fields((await run(runner, STRANGER, "stats days:1")).view)
    assert stats["Requests"] == "7 created · 2 approved · 1 rejected · 1 answered · 1 expired"
    # decided 10m 5s, 20m 4s and 30m 3s after they were asked (asked a second apart)
    assert stats["Median request decision latency"] == "20m 4s"
    summary = await summaries.build(services, WS, "general", since=start, now=clock.now())
    assert fields(summary)["Requests"] == (
        "6 created · 2 approved · 1 rejected · 1 answered · 1 expired"
    )
    assert fields(summary)["Median request decision latency"] == "20m 4s"
    quiet = await summaries.build(services, WS, "general", since=clock.now(), now=clock.now())
    assert (
        fields(quiet)["Requests"] == "0 created · 0 approved · 0 rejected · 0 answered · 0 expired"
    )
    assert fields(quiet)["Median request decision latency"] == "—"


async def test_help_tells_a_request_id_from_a_session_ref(runner: CommandRunner) -> None:
    approve = text((await run(runner, ANA, "help approve")).view)
    assert "/session approve [ref] | <request id> [confirm:<action>]" in approve
    assert "A command shows no digest" in approve and "a session's id" in approve
    assert "a request's id" in text((await run(runner, ANA, "help")).view)
