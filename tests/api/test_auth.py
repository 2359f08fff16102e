"""Tokens: only an active token of the workspace gets in, it sees only its workspace, and the
database never holds a token in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import Conflict, NotFound, UsageError
from core.tokens import TokenService, digest
from core.wiring import Services
from tests.api.conftest import ApiClient, make_token
from tests.conftest import OTHER_WS, WS


async def _session(api: ApiClient, token: str, title: str = "Deploy") -> dict[str, object]:
    reply = await api.post("/sessions", token, json={"channel_id": "general", "title": title})
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer sbt_0123456789abcdef_" + "x" * 43,  # well-formed, unknown
        "Bearer not-a-token",
    ],
)
async def test_missing_or_wrong_tokens_are_refused(
    api: ApiClient, tokens: TokenService, header: str | None
) -> None:
    await make_token(tokens, "agent")
    headers = {"Authorization": header} if header else {}
    reply = await api.call("GET", "/sessions", headers=headers)
    assert reply.status == 401
    assert reply.body == {
        "error": {"code": "unauthorized", "message": reply.body["error"]["message"]}
    }
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_with_a_changed_secret_is_refused(
    api: ApiClient, tokens: TokenService
) -> None:
    token = await make_token(tokens, "agent")
    assert (await api.get("/sessions", token)).status == 200
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")  # same key id, other secret
    assert (await api.get("/sessions", forged)).status == 401


async def test_a_revoked_token_is_refused_at_once(
    api: ApiClient, tokens: TokenService, services: Services
) -> None:
    created, secret = await tokens.create(WS, "ci", user_id="agent")
    assert (await api.get("/sessions", secret)).status == 200
    await tokens.revoke(created.id)
    reply = await api.post(
        "/sessions", secret, json={"channel_id": "general", "title": "After revoke"}
    )
    assert reply.status == 401
    assert (await services.store.sessions.page(
        WS, statuses=None, owner_id=None, mode=None, limit=10, offset=0
    )).total == 0  # fmt: skip
    with pytest.raises(NotFound):
        await tokens.revoke(created.id)


async def test_a_token_never_sees_another_workspaces_sessions(
    api: ApiClient, tokens: TokenService, services: Services
) -> None:
    ours = await make_token(tokens, "agent")
    theirs = await make_token(tokens, "intruder", workspace=OTHER_WS, admin=True)
    session = await _session(api, ours)
    await api.post(f"/sessions/{session['ref']}/messages", ours, json={"content": "secret plan"})

    listed = await api.get("/sessions", theirs, params={"status": "all"})
    assert listed.status == 200 and listed.body["sessions"] == []
    for path in (f"/sessions/{session['ref']}", f"/sessions/{session['id']}"):
        assert (await api.get(path, theirs)).status == 404
        assert (await api.post(f"{path}/pause", theirs)).status == 404
        assert (await api.call("DELETE", path, token=theirs)).status == 404
    found = await api.get("/search", theirs, params={"q": "secret"})
    assert found.status == 200 and found.body["hits"] == []
    still = await services.store.sessions.by_id(str(session["id"]))
    assert still is not None and still.status.value == "active"
    mine = await api.get("/search", ours, params={"q": "secret"})
    assert [h["session_id"] for h in mine.body["hits"]] == [session["id"]]


async def test_tokens_act_under_the_session_roles(api: ApiClient, tokens: TokenService) -> None:
    owner = await make_token(tokens, "owner")
    stranger = await make_token(tokens, "stranger")
    admin = await make_token(tokens, "boss", admin=True)
    session = await _session(api, owner)
    path = f"/sessions/{session['ref']}"

    assert (await api.get(path, stranger)).status == 200  # any member of the workspace reads
    refused = await api.post(f"{path}/pause", stranger)
    assert refused.status == 403 and refused.error == "forbidden"
    assert (await api.call("DELETE", path, token=stranger)).status == 403
    assert (await api.post(f"{path}/pause", admin)).status == 200  # admins act as every role
    assert (await api.call("DELETE", path, token=admin)).status == 204
    assert (await api.get(path, owner)).status == 404


async def test_tokens_are_stored_hashed_never_in_clear(
    tokens: TokenService, services: Services, db_url: str
) -> None:
    secrets = [await make_token(tokens, f"agent{i}") for i in range(3)]
    for secret in secrets:
        assert await tokens.authenticate(secret) is not None
    await services.store.checkpoint()  # type: ignore[attr-defined]
    path = Path(db_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in secrets:
        key_id, random_part = secret.split("_", 2)[1:]
        assert digest(secret).encode() in stored  # the file really holds the tokens' rows
        assert key_id.encode() in stored
        assert secret.encode() not in stored
        assert random_part.encode() not in stored


async def test_token_names_are_checked_and_unique_while_active(
    tokens: TokenService, clock: ManualClock
) -> None:
    with pytest.raises(UsageError):
        await tokens.create(WS, "bad name")
    first, _ = await tokens.create(WS, "ci")
    with pytest.raises(Conflict):
        await tokens.create(WS, "ci")
    await tokens.revoke(first.id)
    clock.advance(1)
    second, _ = await tokens.create(WS, "ci")
    listed = [(t.id, t.active) for t in await tokens.list(WS)]
    assert listed == [(first.id, False), (second.id, True)]


async def test_use_is_recorded_at_most_every_few_minutes(
    tokens: TokenService, clock: ManualClock
) -> None:
    created, secret = await tokens.create(WS, "ci")
    start = clock.now()
    await tokens.authenticate(secret)
    clock.advance(60)
    await tokens.authenticate(secret)
    (listed,) = await tokens.list(WS)
    assert listed.id == created.id and listed.last_used_at == start
    clock.advance(600)
    await tokens.authenticate(secret)
    (listed,) = await tokens.list(WS)
    assert listed.last_used_at == clock.now()
