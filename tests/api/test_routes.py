"""Each route does what its chat command does, through the same services."""

from __future__ import annotations

import json
from typing import Any

from core.clock import ManualClock
from core.store.store import Store
from core.tokens import TokenService
from tests.api.conftest import ApiClient, make_token
from tests.conftest import count


async def _ok(api: ApiClient, method: str, path: str, token: str, body: Any = None) -> Any:
    reply = await api.call(method, path, token=token, json=body)
    assert 200 <= reply.status < 300, (method, path, reply.body)
    return reply.body


async def _start(api: ApiClient, token: str, title: str = "Deploy", **more: Any) -> str:
    created = await _ok(
        api, "POST", "/sessions", token, {"channel_id": "general", "title": title, **more}
    )
    return f"/sessions/{created['ref']}"


async def test_listing_filters_and_pages_with_a_cursor(
    api: ApiClient, token: str, clock: ManualClock
) -> None:
    for i in range(5):
        clock.advance(1)
        await _start(api, token, f"S{i}", mode="deploy" if i % 2 else "incident")
    await _ok(api, "POST", "/sessions/1/cancel", token)
    first = await api.get("/sessions", token, params={"limit": "2"})
    assert first.body["total"] == 4 and len(first.body["sessions"]) == 2
    seen = [s["title"] for s in first.body["sessions"]]
    cursor = first.body["next_cursor"]
    while cursor:
        page = (await api.get("/sessions", token, params={"cursor": cursor})).body
        seen += [s["title"] for s in page["sessions"]]
        cursor = page["next_cursor"]
    assert seen == ["S4", "S3", "S2", "S1"]
    done = await api.get("/sessions", token, params={"status": "done"})
    assert [s["title"] for s in done.body["sessions"]] == ["S0"]
    deploys = await api.get("/sessions", token, params={"mode": "deploy", "status": "all"})
    assert {s["title"] for s in deploys.body["sessions"]} == {"S1", "S3"}


async def test_lifecycle_actions(api: ApiClient, token: str) -> None:
    s = await _start(api, token)
    assert (await _ok(api, "POST", f"{s}/pause", token, {"reason": "lunch"}))["status"] == "paused"
    assert (await _ok(api, "POST", f"{s}/resume", token))["status"] == "active"
    extended = await _ok(api, "POST", f"{s}/extend", token, {"duration": "2d"})
    assert extended["abandon_at"] == "2026-01-08T09:00:00+00:00"
    await _ok(api, "POST", f"{s}/heartbeat", token)
    failed = await _ok(api, "POST", f"{s}/fail", token, {"reason": "disk full"})
    assert (failed["status"], failed["error"]) == ("failed", "disk full")
    assert (await _ok(api, "POST", f"{s}/archive", token))["status"] == "archived"
    shown = await _ok(api, "GET", s, token)
    assert shown["session"]["status"] == "archived" and shown["members"][0]["role"] == "owner"


async def test_delete_removes_every_record(api: ApiClient, token: str, store: Store) -> None:
    s = await _start(api, token, plan=["a", "b"])
    await _ok(api, "POST", f"{s}/messages", token, {"content": "hello"})
    reply = await api.call("DELETE", s, token=token)
    assert reply.status == 204 and reply.body == ""
    assert await count(store, "sessions") == 0
    assert await count(store, "messages") == 0 and await count(store, "events") == 0


async def test_messages_append_page_edit_and_search(api: ApiClient, token: str) -> None:
    s = await _start(api, token)
    for i in range(1, 4):
        body = {"content": f"step {i} rollout", "role": "assistant", "metadata": {"i": i}}
        added = await _ok(api, "POST", f"{s}/messages", token, body)
        assert added["seq"] == i
    page = await _ok(api, "GET", f"{s}/messages?limit=2", token)
    assert [m["seq"] for m in page["messages"]] == [3, 2] and page["next_before"] == 2
    older = await _ok(api, "GET", f"{s}/messages?limit=2&before=2", token)
    assert [m["seq"] for m in older["messages"]] == [1] and older["next_before"] is None
    edited = await _ok(api, "PATCH", f"{s}/messages/2", token, {"content": "step 2 rolled back"})
    assert edited["edited_at"] is not None
    fetched = await _ok(api, "GET", f"{s}/messages/2", token)
    assert fetched["content"] == "step 2 rolled back"
    found = await _ok(api, "GET", "/search?q=roll*", token)
    assert sorted(h["seq"] for h in found["hits"]) == [1, 2, 3]
    assert any("**" in h["snippet"] for h in found["hits"])
    events = await _ok(api, "GET", f"{s}/events?limit=1", token)
    assert events["events"][0]["type"] == "message" and events["next_before"] is not None


async def test_context_merge_ttl_and_delete(api: ApiClient, token: str, clock: ManualClock) -> None:
    s = await _start(api, token)
    body = {"merge": {"build": {"id": 7, "ok": True}, "branch": "main"}}
    merged = await _ok(api, "PATCH", f"{s}/context", token, body)
    assert merged["context"] == {"build": {"id": 7, "ok": True}, "branch": "main"}
    body = {"merge": {"build": {"ok": None}, "lock": "me"}, "ttl_seconds": 60}
    merged = await _ok(api, "PATCH", f"{s}/context", token, body)
    assert merged["context"]["build"] == {"id": 7} and set(merged["expires"]) == {"build", "lock"}
    clock.advance(61)
    assert set((await _ok(api, "GET", f"{s}/context", token))["context"]) == {"branch"}
    left = await _ok(api, "DELETE", f"{s}/context/branch", token)
    assert left["context"] == {}


async def test_plans_submit_reject_resubmit_and_modify(
    api: ApiClient, token: str, tokens: TokenService
) -> None:
    approver = await make_token(tokens, "bob")
    s = await _start(api, token)
    await _ok(api, "POST", f"{s}/members", token, {"user_id": "bob", "role": "approver"})
    plan = await _ok(api, "POST", f"{s}/plan", token, {"items": ["a", "b"], "expires_in": "2h"})
    assert plan["version"] == 1 and plan["expires_at"] is not None
    rejected = await _ok(api, "POST", f"{s}/plan/reject", approver, {"reason": "too risky"})
    assert rejected["plan"]["status"] == "rejected" and rejected["session"]["status"] == "paused"
    again = await _ok(api, "POST", f"{s}/plan", token, {"items": ["a", "b", "c"]})
    assert again["version"] == 2
    await _ok(api, "POST", f"{s}/plan/approve", approver)
    mod = await _ok(api, "PATCH", f"{s}/plan/items/3", token, {"assignee": "carol"})
    assert (mod["action"], mod["value"]) == ("reassign", "carol")
    current = await _ok(api, "GET", f"{s}/plan", token)
    assert current["items"][2]["assignee"] == "carol" and current["status"] == "approved"
    two = await api.call(
        "PATCH", f"{s}/plan/items/1", token=token, json={"status": "done", "comment": "x"}
    )
    assert two.status == 422


async def test_iterations_time_the_session_out_at_the_maximum(api: ApiClient, token: str) -> None:
    s = await _start(api, token, max_iterations=3)
    assert (await _ok(api, "POST", f"{s}/iterations", token, {"count": 2}))["iterations"] == 2
    last = await _ok(api, "POST", f"{s}/iterations", token)
    assert (last["iterations"], last["status"]) == (3, "timed_out")


async def test_export_streams_json_and_markdown(api: ApiClient, token: str) -> None:
    s = await _start(api, token, title="Ship it")
    for i in range(30):
        await _ok(api, "POST", f"{s}/messages", token, {"content": f"line {i}"})
    as_json = await api.get(f"{s}/export", token)
    assert as_json.status == 200 and as_json.headers["Content-Type"].startswith("application/json")
    assert as_json.headers.get("Transfer-Encoding") == "chunked"
    exported = json.loads(as_json.body) if isinstance(as_json.body, str) else as_json.body
    assert exported["session"]["title"] == "Ship it" and len(exported["messages"]) == 30
    as_md = await api.get(f"{s}/export", token, params={"format": "md"})
    assert as_md.headers["Content-Type"].startswith("text/markdown")
    assert as_md.body.startswith("# Session #1: Ship it") and "line 29" in as_md.body
    missing = await api.get("/sessions/99/export", token)
    assert missing.status == 404 and missing.error == "not_found"
