"""Odd refs, NUL characters and deep queries get a clear 4xx on both stores, never a 5xx."""

from __future__ import annotations

import pytest

from core.store.store import Store
from tests.api.conftest import ApiClient
from tests.conftest import BACKENDS, count


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    "ref",
    ["%C2%B2", "99999999999999999999", "2147483648", "99999999999", "%EF%BC%91", "0"],
)
async def test_refs_that_name_no_session_are_404(api: ApiClient, token: str, ref: str) -> None:
    assert (
        await api.post("/sessions", token, json={"channel_id": "general", "title": "one"})
    ).status == 201
    shown = await api.get(f"/sessions/{ref}", token)
    written = await api.post(f"/sessions/{ref}/messages", token, json={"content": "hi"})
    assert (shown.status, shown.error) == (404, "not_found"), shown.body
    assert (written.status, written.error) == (404, "not_found"), written.body


async def test_nul_characters_are_refused_and_change_nothing(
    api: ApiClient, token: str, store: Store
) -> None:
    created = await api.post("/sessions", token, json={"channel_id": "general", "title": "one"})
    assert created.status == 201
    title = await api.post(
        "/sessions", token, json={"channel_id": "general", "title": "nul\u0000title"}
    )
    nested = await api.post(
        "/sessions",
        token,
        json={"channel_id": "general", "title": "ok", "metadata": {"k\u0000": "v"}},
    )
    message = await api.post("/sessions/1/messages", token, json={"content": "hi\u0000there"})
    path = await api.get("/sessions/abc%00def", token)
    query = await api.get("/search?q=a%00b", token)
    assert (title.status, title.error) == (422, "invalid_body")
    assert (nested.status, nested.error) == (422, "invalid_body")
    assert (message.status, message.error) == (422, "invalid_body")
    assert (path.status, path.error) == (400, "invalid_parameter")
    assert (query.status, query.error) == (400, "invalid_parameter")
    assert await count(store, "sessions") == 1
    assert await count(store, "messages") == 0


async def test_a_deeply_nested_search_is_a_bad_query(api: ApiClient, token: str) -> None:
    deep = "(" * 200 + "a" + ")" * 200
    reply = await api.get("/search", token, params={"q": deep})
    assert reply.status == 400 and "deep" in reply.body["error"]["message"], reply.body
