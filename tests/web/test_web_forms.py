"""Deciding with the web's plain forms (plans, high-risk actions, questions), the live streams
that tell an open page to refresh, and `sessionbot web login` as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.http import HttpServer
from core.clock import ManualClock, SystemClock
from core.models import Decision, EventType, PlanStatus, Role, Session, Source
from core.records.requests import RequestKind, RequestStatus, Risk
from core.services.asks import Ask
from core.services.web_signin import SignIn, digest
from core.store.factory import open_store
from core.wiring import Services
from tests.conftest import CHAT, WS, actor
from tests.web.conftest import Browser, signed_in

ROOT = Path(__file__).resolve().parents[2]
OWNER, AGENT, ANA = actor("owner"), actor("agent"), actor("ana")


@pytest.fixture
async def session(services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, "release")
    for user, role in (("agent", Role.EDITOR), ("ana", Role.APPROVER)):
        await services.members.share(OWNER, str(s.ref), user, role=role)
    return s


async def test_a_plan_is_approved_from_the_inbox_as_from_chat(
    ana: Browser, services: Services, session: Session
) -> None:
    posted = await services.plans.submit(OWNER, str(session.ref), ["Back up", "Deploy"])
    page = await ana.get("/web/inbox")
    assert f'id="plan-{posted.plan.id}"' in page.text and "Back up" in page.text
    done = await ana.post(
        f"/web/plans/{posted.plan.id}/decision", {"decision": "approve", "csrf": page.csrf}
    )
    assert done.status == 303 and done.headers["Location"] == "/web/inbox?done=1"
    _, plan = await services.plans.by_id(posted.plan.id)
    assert plan.status is PlanStatus.APPROVED and plan.decided_by == "ana"
    (event,) = [
        e
        for e in await services.store.events.newest(session.id, limit=5)
        if e.type is EventType.PLAN_APPROVED
    ]
    assert (event.actor_id, event.source) == ("ana", Source.WEB)
    after = await ana.get("/web/inbox?done=1")
    assert "Your decision was recorded" in after.text and posted.plan.id not in after.text


async def test_the_stats_page_draws_each_chart_with_its_numbers(
    ana: Browser, services: Services, session: Session, clock: ManualClock
) -> None:
    posted = await services.plans.submit(OWNER, str(session.ref), ["Ship"])
    clock.advance(5 * 60)
    await services.plans.decide(ANA, Decision.APPROVE, plan_id=posted.plan.id)
    done = await services.sessions.start(OWNER, CHAT, "quick")
    await services.sessions.complete(OWNER, str(done.ref))
    page = await ana.get("/web/stats")
    assert page.status == 200
    for caption in (
        "Open sessions by status",
        "Ended sessions by outcome",
        "Plan approval latency",
    ):
        assert f">{caption}</figcaption>" in page.text
    assert page.text.count("<svg") == 5
    assert ">Sessions started and ended per day (UTC), by outcome</figcaption>" in page.text
    today = clock.now().date().isoformat()
    assert '<th scope="col">Ended completed</th>' in page.text
    assert f"<tr><td>{today}</td><td>2</td><td>1</td></tr>" in page.text, "2 started, 1 ended"
    assert page.text.count("<tr><td>20") == 30, "every day of the window, empty ones too"
    assert 'class="ended o-completed"' in page.text
    assert "<td>1–10 min</td><td>1</td>" in page.text
    assert "<td>completed</td><td>1</td>" in page.text
    as_of = clock.now().strftime("%H:%M:%S")
    assert f">{as_of} UTC</time> (at most 10 seconds old)" in page.text, "says how fresh"
    await services.sessions.start(OWNER, CHAT, "another")  # a commit: read afresh at once
    assert f"<tr><td>{today}</td><td>3</td><td>1</td></tr>" in (await ana.get("/web/stats")).text


async def test_a_high_risk_action_needs_its_name_typed(
    ana: Browser, services: Services, session: Session
) -> None:
    request = await services.requests.create(
        AGENT,
        str(session.ref),
        Ask(RequestKind.ACTION, action="drop", args={}, risk=Risk.HIGH, need=1),
    )
    page = await ana.get("/web/inbox")
    assert 'name="confirm"' in page.text
    path = f"/web/requests/{request.id}/decision"
    form = {"decision": "approve", "csrf": page.csrf, "digest": request.digest}
    refused = await ana.post(path, form)
    assert refused.status == 422 and "type its name" in refused.text
    assert (await ana.post(path, form | {"confirm": "drop"})).status == 303
    _, decided = await services.requests.get(OWNER, request.id)
    assert decided.status is RequestStatus.APPROVED and decided.edited_args is None


async def test_arguments_changed_since_shown_are_refused(
    ana: Browser, services: Services, session: Session
) -> None:
    request = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.ACTION, action="deploy", args={"v": "1"}, need=2)
    )
    page = await ana.get("/web/inbox")
    await services.requests.decide(OWNER, request.id, Decision.APPROVE, edited_args={"v": "2"})
    stale = await ana.post(
        f"/web/requests/{request.id}/decision",
        {"decision": "approve", "csrf": page.csrf, "digest": request.digest},
    )
    assert stale.status == 409 and "changed since it was shown" in stale.text
    fresh = await ana.get("/web/inbox")
    assert '"v": "2"' in fresh.text.replace("&#34;", '"'), "the edit is what the inbox shows"
    assert "You voted" not in fresh.text
    agreed = await ana.post(
        f"/web/requests/{request.id}/decision",
        {
            "decision": "approve",
            "csrf": page.csrf,
            "digest": fresh.text.split('name="digest" value="')[1][:16],
        },
    )
    assert agreed.status == 303
    _, settled = await services.requests.get(OWNER, request.id)
    assert settled.status is RequestStatus.APPROVED, "the owner's edit and ana's approval: 2 of 2"
    assert settled.final_args == {"v": "2"}


async def test_a_vote_that_does_not_settle_shows_what_is_still_needed(
    ana: Browser, services: Services, session: Session
) -> None:
    request = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.ACTION, action="deploy", args={"v": "1"}, need=2)
    )
    page = await ana.get("/web/inbox")
    voted = await ana.post(
        f"/web/requests/{request.id}/decision",
        {"decision": "approve", "csrf": page.csrf, "digest": request.digest},
    )
    assert voted.status == 303
    waiting = await ana.get("/web/inbox")
    assert "You voted to approve these arguments; 1 more approval needed." in waiting.text


async def test_a_question_is_answered_by_choice_or_in_words(
    ana: Browser, server: HttpServer, signin: SignIn, services: Services, session: Session
) -> None:
    pick = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.QUESTION, question="Where?", choices=("eu", "us"))
    )
    words = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.QUESTION, question="Why?", free_text=True)
    )
    agent = await signed_in(server, signin, WS, "agent")  # an editor answers
    try:
        page = await agent.get("/web/inbox")
        assert "Where?" in page.text and "Why?" in page.text
        for request_id, form in ((pick.id, {"choice": "2"}), (words.id, {"text": "a hotfix"})):
            answer = await agent.post(
                f"/web/requests/{request_id}/answer", form | {"csrf": page.csrf}
            )
            assert answer.status == 303
    finally:
        await agent.close()
    answers = [(await services.requests.get(OWNER, r))[1].answer for r in (pick.id, words.id)]
    assert answers == ["us", "a hotfix"]


async def _next_event(stream: aiohttp.StreamReader) -> str:
    """The next `event:` line of a Server-Sent Events stream (comments skipped)."""
    while True:
        line = (await asyncio.wait_for(stream.readline(), timeout=10)).decode()
        assert line, "the stream ended"
        if line.startswith("event:"):
            return line.split(":", 1)[1].strip()


async def test_live_streams_say_refresh_when_something_changes(
    ana: Browser, services: Services, session: Session
) -> None:
    page = await ana.get("/web/inbox")
    (last,) = await services.store.events.newest(session.id, limit=1)
    live = page.text.split('data-live="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    async with (
        ana.http.get(ana.base + live) as inbox,
        ana.http.get(ana.base + f"/web/live/sessions/{session.id}?after={last.seq}") as followed,
    ):
        assert inbox.status == 200 and inbox.content_type == "text/event-stream"
        await services.requests.create(
            AGENT, str(session.ref), Ask(RequestKind.ACTION, action="deploy", args={})
        )
        assert await _next_event(inbox.content) == "refresh"
        await services.sessions.pause(OWNER, str(session.ref))
        assert await _next_event(followed.content) == "refresh"


def test_web_login_prints_a_link_that_signs_in_once(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = {**os.environ, "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
           "SESSIONBOT_PUBLIC_URL": "https://bot.example.com", "PYTHONPATH": str(ROOT)}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "bot", "web", "login", "--workspace", WS, "--as", "@Ana"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    url = run.stdout.strip()
    assert url.startswith("https://bot.example.com/web/login/")
    token = url.rsplit("/", 1)[1]

    async def check() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            link = await store.web.take_link(digest(token), now=SystemClock().now())
            assert link is not None and (link.workspace, link.user_id) == (WS, "ana")
            assert await store.web.take_link(digest(token), now=SystemClock().now()) is None
        finally:
            await store.close()

    asyncio.run(check())
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "web", "login", "--workspace", "nowhere", "--as", "ana"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and "workspace" in bad.stderr
