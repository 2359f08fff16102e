"""What the records enforce and how the API answers: a field error names the field and
creates nothing; chat workspaces need a channel; edits return their revision; search and
permission refusals speak API, not chat."""

from __future__ import annotations

import pytest

from core.runner import CommandRunner
from core.store.store import Store
from core.tokens import TokenService
from tests.api.conftest import ApiClient, Reply, make_token
from tests.conftest import CHAT, actor, count

CREATE = {"channel_id": "general", "title": "Deploy"}


def _names(reply: Reply, status: int, field: str) -> None:
    assert (reply.status, reply.error) == (status, "invalid_body"), reply.body
    assert f"body.{field}" in reply.body["error"]["message"], reply.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CREATE, "mode": "two words"}, "mode"),
        ({**CREATE, "mode": "x" * 41}, "mode"),
        ({**CREATE, "mode": ""}, "mode"),
        ({**CREATE, "mode": 42}, "mode"),
        ({**CREATE, "mode": None}, "mode"),
        ({**CREATE, "owner": "root"}, "owner"),
        ({**CREATE, "max_iterations": "5"}, "max_iterations"),
        ({**CREATE, "max_iterations": True}, "max_iterations"),
        ({**CREATE, "plan": ["ok", ""]}, "plan.1"),
        ({"channel_id": "general"}, "title"),
        ({"title": "Deploy"}, "channel_id"),  # console: is a chat workspace
    ],
)
async def test_a_bad_create_names_the_field_and_creates_nothing(
    api: ApiClient, token: str, store: Store, body: dict[str, object], field: str
) -> None:
    _names(await api.post("/sessions", token, json=body), 422, field)
    assert await count(store, "sessions") == 0


async def test_modes_follow_the_chat_rule(
    api: ApiClient, token: str, runner: CommandRunner, store: Store
) -> None:
    made = await api.post("/sessions", token, json={**CREATE, "mode": "yolo"})
    assert made.status == 201 and made.body["mode"] == "yolo"  # a free label, as in chat
    reply = await runner.run(actor("owner"), CHAT, f"start Deploy mode:{'x' * 41}")
    assert reply is not None and "one word of at most 40" in reply.view.plain_text()
    assert await count(store, "sessions") == 1


async def test_api_workspaces_need_no_channel(api: ApiClient, tokens: TokenService) -> None:
    token = await make_token(tokens, "agent", workspace="api:acme")
    made = await api.post("/sessions", token, json={"title": "Deploy"})
    assert made.status == 201 and made.body["channel_id"] == "api"


async def test_other_bodies_name_unknown_and_wrong_fields(api: ApiClient, token: str) -> None:
    s = f"/sessions/{(await api.post('/sessions', token, json=CREATE)).body['ref']}"
    _names(
        await api.post(f"{s}/messages", token, json={"content": "hi", "rol": "user"}), 422, "rol"
    )
    _names(await api.post(f"{s}/messages", token, json={"content": "hi", "role": "x"}), 422, "role")
    _names(await api.post(f"{s}/pause", token, json={"why": "x"}), 422, "why")
    _names(await api.post(f"{s}/extend", token, json={"duration": "soon"}), 422, "duration")
    _names(await api.call("PATCH", f"{s}/context", token=token, json={"merge": {}}), 422, "merge")
    _names(await api.post(f"{s}/plan", token, json={"items": ["a"], "x": 1}), 422, "x")
    reply = await api.call("PATCH", f"{s}/plan/items/1", token=token, json={})
    assert (reply.status, reply.error) == (422, "invalid_body")


async def test_an_edit_returns_the_revision_it_kept(api: ApiClient, token: str) -> None:
    s = f"/sessions/{(await api.post('/sessions', token, json=CREATE)).body['ref']}"
    await api.post(f"{s}/messages", token, json={"content": "first words"})
    edited = await api.call(
        "PATCH", f"{s}/messages/1", token=token, json={"content": "second words"}
    )
    assert edited.status == 200, edited.body
    assert [r["content"] for r in edited.body["revisions"]] == ["first words"]
    assert edited.body == (await api.get(f"{s}/messages/1", token)).body


@pytest.mark.parametrize("query", ['"open', "AND", "(" * 20 + "a" + ")" * 20])
async def test_a_malformed_search_is_a_400_in_api_words(
    api: ApiClient, token: str, query: str
) -> None:
    reply = await api.get("/search", token, params={"q": query})
    assert (reply.status, reply.error) == (400, "invalid_query"), reply.body
    message = reply.body["error"]["message"]
    assert message.startswith("query.q: ") and "/session " not in message
    assert "Usage" not in message


async def test_a_refusal_speaks_api_not_chat(api: ApiClient, tokens: TokenService) -> None:
    owner = await make_token(tokens, "owner")
    stranger = await make_token(tokens, "stranger")
    s = f"/sessions/{(await api.post('/sessions', owner, json=CREATE)).body['ref']}"
    await api.post(f"{s}/plan", owner, json={"items": ["build"]})
    for reply in (
        await api.post(f"{s}/plan/approve", stranger),
        await api.post(f"{s}/pause", stranger),
    ):
        assert (reply.status, reply.error) == (403, "forbidden"), reply.body
        message = reply.body["error"]["message"]
        assert "/session " not in message and "`" not in message
        assert "POST /sessions/{session}/members" in message
