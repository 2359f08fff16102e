"""The SDK against a real `sessionbot serve`: a request blocks until an approver decides, and
the answer survives dropped connections and a server restart, decided once."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import Decision
from core.services.requests import Requests
from core.wiring import Services
from sessionbot_client import (
    Answer,
    Approved,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    Rejected,
    Sessionbot,
    StillPending,
    Unauthorized,
)
from tests.client.conftest import Live, in_background, started
from tests.client.live import api_actor, until

DEPLOY = {"service": "api", "version": "1.2"}
EDITED = {"service": "api", "version": "1.3"}


def pending(live: Live, ref: int) -> list[dict[str, Any]]:
    with live.approver() as bob:
        return bob.requests(ref, status="pending")


def test_request_approval_blocks_until_an_approver_approves_with_edited_args(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONBOT_URL", live.server.url)
    monkeypatch.setenv("SESSIONBOT_TOKEN", live.agent_token)
    agent = Sessionbot(poll=30)  # configured from the environment
    ref = started(live, agent)
    with in_background(
        lambda: agent.request_approval(ref, "deploy", DEPLOY, summary="Ship 1.2")
    ) as waiting:
        until(lambda: len(pending(live, ref)) == 1, "the request is pending")
        (request,) = pending(live, ref)
        assert not waiting.done()  # the agent is blocked in its long-poll
        with live.approver() as bob:
            decided = bob.approve(request["id"], args=EDITED, digest=request["digest"])
        assert decided["settled"] is True
        approved = waiting.result(timeout=30)
    assert isinstance(approved, Approved)
    assert (approved.args, approved.by, approved.edited) == (EDITED, "bob", True)
    assert approved.request["args"] == DEPLOY and approved.request_id == request["id"]
    assert len(agent.requests(ref)) == 1
    agent.close()


def test_a_rejection_is_raised_with_its_reason_and_who(live: Live) -> None:
    with live.agent() as agent:
        ref = started(live, agent)
        with in_background(lambda: agent.request_approval(ref, "drop_table", {})) as waiting:
            until(lambda: len(pending(live, ref)) == 1, "the request is pending")
            with live.approver() as bob:
                bob.reject(pending(live, ref)[0]["id"], "not during the freeze")
            with pytest.raises(Rejected) as raised:
                waiting.result(timeout=30)
    assert (raised.value.reason, raised.value.by) == ("not during the freeze", "bob")


def test_ask_returns_the_first_answer_and_who_gave_it(live: Live) -> None:
    with live.agent() as agent:
        ref = started(live, agent)
        agent.share(ref, "bob", "editor")  # answering a question is work in the session
        with in_background(
            lambda: agent.ask(ref, "Which region first?", choices=["eu", "us"], free_text=True)
        ) as waiting:
            until(lambda: len(pending(live, ref)) == 1, "the question is pending")
            with live.approver() as bob:
                bob.answer(pending(live, ref)[0]["id"], choice=2)
            answer = waiting.result(timeout=30)
    assert answer == Answer("us", 2, "bob", answer.request)


def test_a_wait_that_runs_out_raises_still_pending_and_can_be_resumed(live: Live) -> None:
    with live.agent(poll=1) as agent:
        ref = started(live, agent)
        with pytest.raises(StillPending) as raised:
            agent.request_approval(ref, "deploy", DEPLOY, timeout=1)
        request_id = raised.value.request_id
        with live.approver() as bob:
            bob.approve(request_id)
        assert agent.wait_for(request_id)["status"] == "approved"
        assert len(agent.requests(ref)) == 1


def test_the_server_is_killed_and_restarted_while_the_sdk_waits(live: Live) -> None:
    """The decision is taken while the server is down; the SDK reconnects with backoff once
    it is back and returns that decision, once, for the one request it created."""
    with live.agent(poll=30) as agent:
        ref = started(live, agent)
        with in_background(lambda: agent.request_approval(ref, "deploy", DEPLOY)) as waiting:
            until(lambda: len(pending(live, ref)) == 1, "the request is pending")
            (request,) = pending(live, ref)
            live.server.kill()  # the agent's long-poll connection is cut mid-wait

            async def approve(services: Services) -> None:
                requests: Requests = services.requests
                await requests.decide(
                    api_actor("bob"), request["id"], Decision.APPROVE, edited_args=EDITED
                )

            live.server.core(approve)  # decided while no server runs (another replica, say)
            assert not waiting.done()
            live.server.start()
            approved = waiting.result(timeout=60)
        assert (approved.args, approved.by) == (EDITED, "bob")
        assert live.server.starts == 2
        (only,) = agent.requests(ref)
        assert only["id"] == request["id"] and only["status"] == "approved"
        events = agent.events(ref, limit=200)["events"]
        kinds = [e["type"] for e in events]
        assert kinds.count("request_created") == 1 and kinds.count("request_decided") == 1


def test_api_errors_are_typed_exceptions(live: Live) -> None:
    with live.agent() as agent:
        with pytest.raises(NotFound) as missing:
            agent.get_session(999)
        assert missing.value.status == 404 and missing.value.code == "not_found"
        ref = started(live, agent)
        with pytest.raises(InvalidRequest) as invalid:
            agent.request_approval(ref, "no spaces allowed", {})
        assert invalid.value.status == 422 and "action" in invalid.value.message
        assert agent.requests(ref) == []  # refused: nothing created
        with pytest.raises(StillPending) as asked:
            agent.request_approval(ref, "deploy", DEPLOY, timeout=0)
        request_id = asked.value.request_id
    with live.approver() as bob:
        bob.reject(request_id, "no")
        with pytest.raises(Conflict) as late:
            bob.approve(request_id)
        assert late.value.decided_by == "bob"
    outsider = Sessionbot(live.server.url, live.server.token("carol"))
    with outsider, pytest.raises(Forbidden):
        outsider.pause(ref)  # not a member of the session
    with Sessionbot(live.server.url, "sbt_not-a-token") as stranger, pytest.raises(Unauthorized):
        stranger.get_session(ref)
