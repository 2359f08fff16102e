"""What the SDK promises beyond a round trip, against a real `sessionbot serve`: a POST whose
response was lost acts once, a server of another API version is refused clearly, and the
decorator runs the function only on approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.jobs.sweep import sweep_due
from core.wiring import Services
from sessionbot_client import (
    Expired,
    IncompatibleServer,
    Rejected,
    StillPending,
    approval_required,
)
from tests.client.conftest import Live, in_background, started
from tests.client.live import until
from tests.client.proxy import Proxy


def the_pending_one(live: Live, ref: int) -> str:
    with live.approver() as bob:
        until(lambda: len(bob.requests(ref, status="pending")) == 1, "the request is pending")
        return str(bob.requests(ref, status="pending")[0]["id"])


def test_a_post_retried_after_its_response_was_dropped_acts_once(live: Live) -> None:
    with live.agent() as direct:
        ref = started(live, direct)
        with Proxy(live.server.port) as proxy, live.agent(url=proxy.url) as agent:
            proxy.drop_next_post()
            with pytest.raises(StillPending) as raised:
                agent.request_approval(ref, "deploy", {"version": "1.2"}, timeout=0)
        (first, retry) = proxy.posts
        assert first == retry == (f"/api/v1/sessions/{ref}/requests", first[1])
        assert first[1] and first[1].startswith("sbc-")  # one generated key, sent twice
        (only,) = direct.requests(ref)
        assert only["id"] == raised.value.request_id


@pytest.mark.parametrize(
    ("stated", "says"), [("2", "speaks sessionbot API 2"), ("", "did not say which")]
)
def test_a_server_of_another_api_version_is_refused_clearly(
    live: Live, stated: str, says: str
) -> None:
    with (
        Proxy(live.server.port, stated=stated) as proxy,
        live.agent(url=proxy.url) as agent,
        pytest.raises(IncompatibleServer, match=says) as raised,
    ):
        agent.get_session(1)
    assert "this client speaks 1" in str(raised.value) or "speaks API 1" in str(raised.value)


def test_the_decorator_runs_the_function_with_the_approved_args(live: Live) -> None:
    ran: list[tuple[str, int]] = []
    with live.agent() as agent:
        ref = started(live, agent)

        @approval_required(agent, ref, summary="Scale the service")
        def scale(service: str, replicas: int = 2) -> str:
            ran.append((service, replicas))
            return f"{service}={replicas}"

        with in_background(lambda: scale("api")) as waiting:
            request_id = the_pending_one(live, ref)
            with live.approver() as bob:
                request = bob.get_request(request_id)
                assert (request["action"], request["args"]) == (
                    "scale",
                    {"service": "api", "replicas": 2},
                )
                bob.approve(request_id, args={"service": "api", "replicas": 3})
            assert waiting.result(timeout=30) == "api=3"
    assert ran == [("api", 3)]


def test_the_decorator_does_not_run_the_function_on_rejection(live: Live) -> None:
    ran: list[str] = []
    with live.agent() as agent:
        ref = started(live, agent)

        @approval_required(agent, lambda: ref)
        def drop_table(name: str) -> None:
            ran.append(name)

        with in_background(lambda: drop_table("users")) as waiting:
            request_id = the_pending_one(live, ref)
            with live.approver() as bob:
                bob.reject(request_id, "not in production")
            with pytest.raises(Rejected) as raised:
                waiting.result(timeout=30)
    assert raised.value.reason == "not in production" and ran == []


def test_the_decorator_does_not_run_the_function_on_expiry(live: Live) -> None:
    """The request expires through the sweep, run on the server's database with the clock moved
    past its expiry (as the sweep of another replica would); the agent's next long-poll sees it."""
    ran: list[str] = []
    with live.agent(poll=1) as agent:
        ref = started(live, agent)

        @approval_required(agent, ref, expires_in=timedelta(minutes=10))
        def rotate_keys(scope: str) -> None:
            ran.append(scope)

        with in_background(lambda: rotate_keys("all")) as waiting:
            request_id = the_pending_one(live, ref)

            async def sweep(services: Services) -> int:
                later = datetime.now(UTC) + timedelta(minutes=11)
                return (await sweep_due(services, later)).requests_expired

            assert live.server.core(sweep) == 1
            with pytest.raises(Expired) as raised:
                waiting.result(timeout=30)
    assert raised.value.request_id == request_id and ran == []
