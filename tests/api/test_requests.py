"""Agents' requests over real HTTP: an agent asks and long-polls, approvers decide through the API
and the waiting agent gets the decision (edited arguments, the answerer) as soon as it is taken;
bad input gets a clear 4xx and changes nothing; a client gone mid-wait leaves no waiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from core.store.store import Store
from core.tokens import TokenService
from core.wiring import Services
from tests.api.conftest import ApiClient, Reply, make_token
from tests.conftest import BACKENDS, count

DEPLOY = {"action": "deploy", "args": {"service": "api", "version": "1.2"}, "summary": "ship"}
BOUND = 10.0  # seconds any wait in these tests may take at most (a bound, never a rule)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def people(api: ApiClient, tokens: TokenService) -> dict[str, str]:
    """Tokens of a session's people: its owner, the agent and an answerer (editors), two
    approvers and a stranger with no role; the session is `/sessions/1`."""
    found = {
        user: await make_token(tokens, user)
        for user in ("owner", "agent", "ed", "ana", "bob", "stranger")
    }
    made = await api.post(
        "/sessions", found["owner"], json={"channel_id": "general", "title": "Release"}
    )
    assert made.status == 201, made.body
    for user, role in (
        ("agent", "editor"),
        ("ed", "editor"),
        ("ana", "approver"),
        ("bob", "approver"),
    ):
        shared = await api.post(
            "/sessions/1/members", found["owner"], json={"user_id": user, "role": role}
        )
        assert shared.status == 200, shared.body
    return found


async def _until(check: Callable[[], bool]) -> None:
    """Return once `check()` holds (a state of the server reached), failing after BOUND
    seconds; the server offers no event to wait on for its count of waiters."""
    async with asyncio.timeout(BOUND):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _ask(api: ApiClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post("/sessions/1/requests", token, json=body)
    assert reply.status == 201, reply.body
    return dict(reply.body)


async def test_the_waiting_agent_gets_the_arguments_an_approver_edited(
    api: ApiClient, people: dict[str, str], services: Services
) -> None:
    asked = await _ask(api, people["agent"], DEPLOY)
    assert (asked["status"], asked["kind"], asked["need"]) == ("pending", "action", 1)
    assert asked["args"] == DEPLOY["args"] and asked["args_to_run"] is None
    path = f"/requests/{asked['id']}"
    waiting = asyncio.create_task(api.get(path, people["agent"], params={"wait": "60"}))
    await _until(lambda: len(services.requests.waiters) == 1)  # the agent is waiting now
    edited = {"service": "api", "version": "1.3"}
    decided = await api.post(
        f"{path}/decision",
        people["ana"],
        json={"decision": "approve", "args": edited, "reason": "1.2 has the bug"},
    )
    assert decided.status == 200, decided.body
    assert decided.body["settled"] and not decided.body["repeated"]
    async with asyncio.timeout(BOUND):  # woken by the decision, long before the 60 s ran out
        got = await waiting
    assert got.status == 200, got.body
    request = got.body
    assert (request["status"], request["decided_by"]) == ("approved", "ana")
    assert request["args"] == DEPLOY["args"] and request["edited_args"] == edited
    assert request["args_to_run"] == edited and request["reason"] == "1.2 has the bug"
    assert request["approvals"] == 1 and [v["user_id"] for v in request["votes"]] == ["ana"]
    assert len(services.requests.waiters) == 0
    pending = await api.get("/sessions/1/requests", people["agent"], params={"status": "pending"})
    every = await api.get("/sessions/1/requests", people["agent"])
    assert pending.body == {"requests": []}
    assert [r["status"] for r in every.body["requests"]] == ["approved"]


async def test_a_question_answered_in_free_text_reaches_the_waiting_agent(
    api: ApiClient, people: dict[str, str], services: Services
) -> None:
    asked = await _ask(
        api,
        people["agent"],
        {"question": "Which region first?", "choices": ["eu", "us"], "free_text": True},
    )
    assert asked["kind"] == "question" and asked["action"] is None and asked["digest"] is None
    path = f"/requests/{asked['id']}"
    waiting = asyncio.create_task(api.get(path, people["agent"], params={"wait": "60"}))
    await _until(lambda: len(services.requests.waiters) == 1)
    answered = await api.post(
        f"{path}/decision", people["ed"], json={"decision": "answer", "text": "eu, then us"}
    )
    assert answered.status == 200, answered.body
    async with asyncio.timeout(BOUND):
        got = (await waiting).body
    assert (got["status"], got["answer"], got["decided_by"]) == ("answered", "eu, then us", "ed")
    late = await api.post(
        f"{path}/decision", people["owner"], json={"decision": "answer", "choice": 2}
    )
    assert (late.status, late.error) == (409, "conflict")
    assert late.body["error"]["decided_by"] == "ed" and late.body["error"]["decided_at"]


async def test_a_wait_that_runs_out_returns_the_pending_request(
    api: ApiClient, people: dict[str, str], services: Services
) -> None:
    asked = await _ask(api, people["agent"], DEPLOY)
    path = f"/requests/{asked['id']}"
    now = await api.get(path, people["agent"], params={"wait": "0"})
    plain = await api.get(path, people["agent"])
    ran_out = await api.get(path, people["agent"], params={"wait": "1"})
    for reply in (now, plain, ran_out):
        assert reply.status == 200 and reply.body["status"] == "pending", reply.body
    assert len(services.requests.waiters) == 0
    too_long = await api.get(path, people["agent"], params={"wait": "61"})
    assert (too_long.status, too_long.error) == (400, "invalid_parameter")
    unknown = await api.get("/requests/nope", people["agent"], params={"wait": "5"})
    assert (unknown.status, unknown.error) == (404, "not_found")


async def test_a_client_gone_mid_wait_leaves_no_waiter(
    api: ApiClient, people: dict[str, str], services: Services, server: Any
) -> None:
    asked = await _ask(api, people["agent"], DEPLOY)
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        (
            f"GET /api/v1/requests/{asked['id']}?wait=60 HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {people['agent']}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await _until(lambda: len(services.requests.waiters) == 1)
    writer.close()
    await writer.wait_closed()
    await _until(lambda: len(services.requests.waiters) == 0)
    still = await api.get(f"/requests/{asked['id']}", people["agent"])
    assert still.body["status"] == "pending"


def _refused(reply: Reply, status: int, code: str, words: str = "") -> None:
    assert (reply.status, reply.error) == (status, code), reply.body
    assert words in reply.body["error"]["message"], reply.body


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({**DEPLOY, "priority": "p1"}, 422, "invalid_body", "body.priority: unknown field"),
        ({**DEPLOY, "args": {"blob": "x" * 20_000}}, 413, "limit", "args"),
        ({**DEPLOY, "args": _deep(17)}, 422, "too_deep", "more than 16 deep"),
        ({**DEPLOY, "risk": "high", "on_expiry": "approve"}, 422, "usage", "never approved"),
        ({**DEPLOY, "action": "rm -rf"}, 422, "invalid_body", "body.action"),
        ({**DEPLOY, "need": 3, "approvers": ["ana", "bob"]}, 422, "usage", "only 2 approvers"),
        ({**DEPLOY, "expires_in": "10s"}, 422, "usage", "expires_in"),
        ({**DEPLOY, "question": "ok?"}, 422, "invalid_body", "either action"),
        ({**DEPLOY, "choices": ["a"]}, 422, "invalid_body", "body.choices: not for an action"),
        ({"question": "Which?", "args": {}}, 422, "invalid_body", "body.args: not for a question"),
        ({"question": "Which region?"}, 422, "usage", "needs choices"),
        ({"summary": "nothing asked"}, 422, "invalid_body", "either action"),
    ],
)
async def test_a_bad_request_is_refused_and_creates_nothing(
    api: ApiClient,
    people: dict[str, str],
    store: Store,
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    _refused(
        await api.post("/sessions/1/requests", people["agent"], json=body), status, code, words
    )
    assert await count(store, "requests") == 0


async def test_decisions_nobody_may_take_are_refused_and_change_nothing(
    api: ApiClient, people: dict[str, str], store: Store
) -> None:
    named = await _ask(api, people["agent"], {**DEPLOY, "approvers": ["bob"]})
    high = await _ask(api, people["owner"], {**DEPLOY, "risk": "high"})
    assert high["need"] == 2
    n, h = f"/requests/{named['id']}/decision", f"/requests/{high['id']}/decision"
    approve = {"decision": "approve"}
    _refused(await api.post(n, people["stranger"], json=approve), 403, "forbidden")
    _refused(await api.post(n, people["ana"], json=approve), 403, "forbidden", "one of")
    _refused(await api.post(n, people["agent"], json=approve), 403, "forbidden")
    _refused(
        await api.post(h, people["owner"], json={**approve, "confirm": "deploy"}),
        403,
        "forbidden",
        "forbids approving your own request",
    )
    _refused(await api.post(h, people["ana"], json=approve), 422, "usage", "type its name")
    _refused(
        await api.post(n, people["bob"], json={**approve, "digest": "0123456789abcdef"}),
        409,
        "conflict",
        "changed since it was shown",
    )
    _refused(
        await api.post(n, people["bob"], json={"decision": "answer", "text": "yes"}),
        422,
        "usage",
        "approved or rejected",
    )
    _refused(
        await api.post(n, people["bob"], json={"decision": "reject", "args": {}}),
        422,
        "invalid_body",
        "body.args: not for decision reject",
    )
    _refused(
        await api.post(n, people["bob"], json={**approve, "args": _deep(17)}),
        422,
        "too_deep",
    )
    _refused(await api.post(n, people["bob"], json={**approve, "why": 1}), 422, "invalid_body")
    assert await count(store, "request_votes") == 0
    for r in (named, high):
        shown = await api.get(f"/requests/{r['id']}", people["agent"])
        assert shown.body["status"] == "pending" and shown.body["votes"] == []
    ok = await api.post(n, people["bob"], json={**approve, "digest": named["digest"]})
    assert ok.status == 200 and ok.body["request"]["args_to_run"] == DEPLOY["args"], ok.body


async def test_high_risk_needs_two_confirmed_approvals(
    api: ApiClient, people: dict[str, str]
) -> None:
    high = await _ask(api, people["agent"], {**DEPLOY, "risk": "high"})
    path = f"/requests/{high['id']}/decision"
    body = {"decision": "approve", "confirm": "deploy"}
    first = await api.post(path, people["ana"], json=body)
    assert first.status == 200 and not first.body["settled"], first.body
    assert first.body["request"]["approvals"] == 1 and first.body["request"]["args_to_run"] is None
    second = await api.post(path, people["bob"], json=body)
    assert second.body["settled"] and second.body["request"]["status"] == "approved"
    late = await api.post(path, people["owner"], json={"decision": "reject"})
    _refused(late, 409, "conflict", "already approved")
    assert late.body["error"]["decided_by"] == "bob"


async def test_a_rejection_carries_its_reason(api: ApiClient, people: dict[str, str]) -> None:
    asked = await _ask(api, people["agent"], DEPLOY)
    rejected = await api.post(
        f"/requests/{asked['id']}/decision",
        people["bob"],
        json={"decision": "reject", "reason": "not during the freeze"},
    )
    request = rejected.body["request"]
    assert (request["status"], request["reason"]) == ("rejected", "not during the freeze")
    assert request["args_to_run"] is None


async def test_a_retried_create_asks_once(
    api: ApiClient, people: dict[str, str], store: Store
) -> None:
    key = {"Idempotency-Key": "ask-deploy-1"}
    first = await api.post("/sessions/1/requests", people["agent"], json=DEPLOY, headers=key)
    again = await api.post("/sessions/1/requests", people["agent"], json=DEPLOY, headers=key)
    assert first.status == again.status == 201 and first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await count(store, "requests") == 1


async def test_requests_of_another_workspace_are_not_found(
    api: ApiClient, people: dict[str, str], tokens: TokenService
) -> None:
    asked = await _ask(api, people["agent"], DEPLOY)
    other = await make_token(tokens, "ana", workspace="console:other")
    _refused(await api.get(f"/requests/{asked['id']}", other), 404, "not_found")
    decided = await api.post(
        f"/requests/{asked['id']}/decision", other, json={"decision": "approve"}
    )
    _refused(decided, 404, "not_found")
