"""JSON nested past the limit is refused at every edge, and a damaged stored row never takes a
workspace down: its listing, the session's export and its deletion still work (both stores)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from core import jsonlimits
from core.clock import ManualClock
from core.errors import Conflict, UsageError
from core.history import context
from core.history.export import json_chunks
from core.history.importer import FILE_DEPTH, import_json
from core.history.records import BadFile
from core.models import EventType
from core.runner import CommandRunner
from core.store import decode
from core.store.store import Store
from core.wiring import Services
from tests.api.conftest import ApiClient
from tests.conftest import BACKENDS, CHAT, actor, count, execute, fetchall

DEEP = jsonlimits.MAX_DEPTH + 1


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def deep_text(levels: int) -> str:
    return '{"k":' * levels + "1" + "}" * levels


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_depth_is_measured_without_recursion() -> None:
    assert jsonlimits.depth("x") == 0
    assert jsonlimits.depth({"a": [1, {"b": []}]}) == 4
    jsonlimits.check_depth(nested(jsonlimits.MAX_DEPTH))
    with pytest.raises(jsonlimits.TooDeep):
        jsonlimits.check_depth(nested(DEEP))
    with pytest.raises(jsonlimits.TooDeep):
        jsonlimits.parse("[" * 100_000 + "]" * 100_000)  # past the parser's own recursion
    assert jsonlimits.parse(deep_text(jsonlimits.MAX_DEPTH)) == json.loads(deep_text(64))


async def test_deep_json_is_refused_in_every_api_body_and_nothing_is_stored(
    api: ApiClient, token: str, store: Store
) -> None:
    base = {"channel_id": "general", "title": "Deploy"}
    ok = await api.post("/sessions", token, json={**base, "metadata": nested(63)})
    assert ok.status == 201, ok.body  # the limit itself is fine: 64 levels with the body
    s = f"/sessions/{ok.body['ref']}"
    create = '{"channel_id": "general", "title": "Deploy", "metadata": '
    bodies = [
        ("POST", "/sessions", create + deep_text(DEEP) + "}"),
        ("POST", "/sessions", create + deep_text(1000) + "}"),  # the reported attack
        ("POST", f"{s}/messages", '{"content": "hi", "metadata": ' + deep_text(DEEP) + "}"),
        ("PATCH", f"{s}/context", '{"merge": ' + deep_text(DEEP) + "}"),
        ("POST", f"{s}/tool-calls", '{"tool": "grep", "input": ' + deep_text(DEEP) + "}"),
        ("POST", f"{s}/iterations", '{"data": ' + deep_text(DEEP) + "}"),
    ]
    for method, path, data in bodies:
        reply = await api.call(
            method, path, token=token, data=data, headers={"Content-Type": "application/json"}
        )
        assert (reply.status, reply.error) == (400, "malformed_json"), (path, reply.body)
        assert "64 deep" in reply.body["error"]["message"]
    assert await count(store, "sessions") == 1
    assert await count(store, "messages") == 0
    assert await count(store, "events", "type = ?", "tool_call") == 0
    shown = await api.get(s, token)
    assert shown.status == 200 and shown.body["session"]["context"] == {}


async def test_deep_context_in_chat_is_a_usage_error(
    runner: CommandRunner, services: Services
) -> None:
    owner = actor("owner")
    session = await services.sessions.start(owner, CHAT, "Deploy")
    reply = await runner.run(owner, CHAT, f"context 1 lock={deep_text(DEEP)}")
    assert reply is not None and "64 deep" in reply.view.plain_text(), reply
    dotted = ".".join(["k"] * DEEP)
    reply = await runner.run(owner, CHAT, f"context 1 {dotted}=1")
    assert reply is not None and "64 deep" in reply.view.plain_text(), reply
    with pytest.raises(UsageError):
        context.parse_pairs({"lock": deep_text(1000)})
    stored = await services.store.sessions.by_id(session.id)
    assert stored is not None and stored.context == {}


async def test_a_deep_import_file_is_refused_and_nothing_is_imported(
    services: Services, store: Store
) -> None:
    history = services.history
    admin = actor("root")
    session = await services.sessions.start(admin, CHAT, "Deploy")
    text = "".join([c async for c in json_chunks(history, admin, session.id)])
    data = json.loads(text)
    data["session"]["metadata"] = nested(FILE_DEPTH)
    for bad in (json.dumps(data), '{"format_version": ' + "[" * 5000 + "]" * 5000 + "}"):
        with pytest.raises(BadFile, match=f"{FILE_DEPTH} deep"):
            await import_json(history, admin, bad, workspace="console:other")
    assert await count(store, "sessions") == 1


async def test_an_export_of_values_at_the_limit_imports_again(
    services: Services, store: Store
) -> None:
    history = services.history
    admin = actor("root")
    limit = jsonlimits.MAX_DEPTH
    session = await services.sessions.start(admin, CHAT, "Deploy", metadata=nested(limit))
    await history.append(admin, session.id, "hi", metadata=nested(limit))
    await services.progress.record_event(admin, session.id, EventType.TOOL_CALL, nested(limit))
    text = "".join([c async for c in json_chunks(history, admin, session.id)])
    result = await import_json(history, admin, text, workspace="console:other")
    assert result.session.metadata == nested(limit) and result.messages == 1
    assert await count(store, "sessions") == 2


async def _damage(store: Store, session_id: str, table: str = "sessions") -> None:
    """Write what the API used to accept: metadata nested 1,000 deep, straight into the row."""
    column, key = ("metadata", "id") if table != "events" else ("data", "session_id")
    await execute(
        store, f"UPDATE {table} SET {column} = ? WHERE {key} = ?", deep_text(1000), session_id
    )


async def test_a_damaged_row_does_not_stop_listing_export_or_delete(
    api: ApiClient, token: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    created = [
        (await api.post("/sessions", token, json={"channel_id": "general", "title": t})).body
        for t in ("damaged", "fine")
    ]
    damaged = created[0]
    await _damage(store, damaged["id"])
    await _damage(store, damaged["id"], "events")
    (row,) = await fetchall(store, "SELECT metadata FROM sessions WHERE id = ?", damaged["id"])
    assert len(row[0]) > 5000  # really stored damaged
    before = sum(decode.UNREADABLE.values())

    with caplog.at_level(logging.WARNING, logger="core.store.decode"):
        listed = await api.get("/sessions", token, params={"status": "all"})
        shown = await api.get(f"/sessions/{damaged['ref']}", token)
        exported = await api.get(f"/sessions/{damaged['ref']}/export", token)
        events = await api.get(f"/sessions/{damaged['ref']}/events", token)
    assert listed.status == 200, listed.body
    assert {s["title"] for s in listed.body["sessions"]} == {"damaged", "fine"}
    assert shown.status == 200 and shown.body["session"]["metadata"] == {}
    assert exported.status == 200 and exported.body["session"]["title"] == "damaged"
    assert events.status == 200 and events.body["events"]
    assert sum(decode.UNREADABLE.values()) > before  # counted
    assert any(damaged["id"] in r.getMessage() for r in caplog.records)  # logged with its id

    deleted = await api.call("DELETE", f"/sessions/{damaged['ref']}", token=token)
    assert deleted.status == 204, deleted.body
    assert await count(store, "sessions") == 1
    listed = await api.get("/sessions", token, params={"status": "all"})
    assert [s["title"] for s in listed.body["sessions"]] == ["fine"]


DAMAGED_CONTEXT = deep_text(1000)  # past the depth limit: unreadable (PostgreSQL keeps JSON)


async def _context_text(store: Store, session_id: str) -> str:
    (row,) = await fetchall(store, "SELECT context FROM sessions WHERE id = ?", session_id)
    return str(row[0])


async def test_a_damaged_context_refuses_a_merge_and_stays_as_stored(
    runner: CommandRunner, services: Services, store: Store
) -> None:
    owner = actor("owner")
    session = await services.sessions.start(owner, CHAT, "Deploy")
    await execute(
        store, "UPDATE sessions SET context = ? WHERE id = ?", DAMAGED_CONTEXT, session.id
    )
    stored = await _context_text(store, session.id)
    history = services.history
    with pytest.raises(Conflict, match=r"damaged.*nothing was changed"):
        await context.update(history, owner, session.id, {"env": "prod"})
    reply = await runner.run(owner, CHAT, "context 1 env=prod")
    assert reply is not None and "damaged" in reply.view.plain_text(), reply
    assert await _context_text(store, session.id) == stored
    assert await count(store, "events", "type = ?", "context_updated") == 0
    assert (await context.read(history, owner, session.id)).context == {}  # reads still work
    reply = await runner.run(owner, CHAT, "context 1")
    assert reply is not None and "damaged" not in reply.view.plain_text(), reply


async def test_the_context_purge_leaves_a_damaged_context_as_stored(
    services: Services, store: Store, clock: ManualClock
) -> None:
    owner = actor("owner")
    history = services.history
    damaged = await services.sessions.start(owner, CHAT, "Damaged")
    fine = await services.sessions.start(owner, CHAT, "Fine")
    for session in (damaged, fine):
        await context.update(history, owner, session.id, {"keep": 1})
        await context.update(history, owner, session.id, {"lock": 1}, ttl=timedelta(minutes=5))
    await execute(
        store, "UPDATE sessions SET context = ? WHERE id = ?", DAMAGED_CONTEXT, damaged.id
    )
    stored = await _context_text(store, damaged.id)
    clock.advance(600)
    assert await context.purge_context(services, clock.now()) == 1  # the fine session's key
    assert await _context_text(store, damaged.id) == stored
    assert json.loads(await _context_text(store, fine.id)) == {"keep": 1}
    assert await count(store, "context_expiry", "session_id = ?", damaged.id) == 1  # kept
    assert await count(store, "context_expiry", "session_id = ?", fine.id) == 0


def test_unreadable_json_is_reported_and_read_as_empty() -> None:
    assert decode.stored_json('{"a": 1}', "sessions", "s1") == {"a": 1}
    assert decode.stored_json("not json", "sessions", "s1") == {}
    assert decode.stored_json(deep_text(DEEP), "plan_items", "p1", []) == []
    with pytest.raises(Conflict, match="sessions row s1 is damaged"):
        decode.stored_json("not json", "sessions", "s1", strict=True)
    with pytest.raises(Conflict):
        decode.stored_context("[1, 2]", "s1")  # JSON, but not a context
    assert decode.stored_context('{"a": 1}', "s1") == {"a": 1}
