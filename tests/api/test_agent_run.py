"""A scripted agent run over the REST API records the same events as the same run in the console."""

from __future__ import annotations

import io
import re
from typing import Any

from adapters.console.adapter import WORKSPACE, ConsoleAdapter, ConsoleDelivery, ConsoleScreen
from core.clock import ManualClock
from core.models import Actor, EventType, Source
from core.outbox import OutboxDispatcher
from core.runner import CommandRunner
from core.store.store import Store
from core.tokens import TokenService
from core.wiring import Services
from tests.api.conftest import ApiClient

API_WS = "api:acme"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TOOL_CALL = {"tool": "pytest", "input": {"args": ["-q"]}, "output": "12 passed", "status": "ok"}


async def _events(store: Store, session_id: str) -> list[Any]:
    return await store.events.after(session_id, after_seq=0, limit=1000)


def _normalised(events: list[Any]) -> list[tuple[str, str, Any]]:
    """Kind, actor and data of each event, with record ids replaced by their order of appearance."""
    seen: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<id{len(seen) + 1}>")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return UUID.sub(rename, value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return [(e.type.value, e.actor_id, walk(e.data)) for e in events]


async def _api_run(api: ApiClient, tokens: TokenService) -> str:
    _, agent = await tokens.create(API_WS, "agent", user_id="agent")
    _, approver = await tokens.create(API_WS, "approver", user_id="bob")

    async def ok(method: str, path: str, token: str, body: Any = None) -> Any:
        reply = await api.call(method, path, token=token, json=body)
        assert reply.status in (200, 201), (path, reply.body)
        return reply.body

    created = await ok(
        "POST", "/sessions", agent, {"title": "Ship v2", "mode": "deploy", "channel_id": "general"}
    )
    s = f"/sessions/{created['ref']}"
    await ok("POST", f"{s}/members", agent, {"user_id": "bob", "role": "approver"})
    plan = await ok("POST", f"{s}/plan", agent, {"items": ["build", "test", "ship"]})
    assert plan["status"] == "pending"
    decided = await ok("POST", f"{s}/plan/approve", approver)
    assert decided["settled"] and decided["session"]["status"] == "active"
    await ok("POST", f"{s}/iterations", agent, {"data": {"step": "build"}})
    await ok("POST", f"{s}/tool-calls", agent, TOOL_CALL)
    await ok("POST", f"{s}/iterations", agent, {"data": {"step": "test"}})
    await ok("POST", f"{s}/messages", agent, {"content": "Build and tests are green."})
    await ok("PATCH", f"{s}/plan/items/1", agent, {"status": "done"})
    await ok("PATCH", f"{s}/context", agent, {"merge": {"branch": "main"}})
    done = await ok("POST", f"{s}/complete", agent, {"summary": "shipped"})
    assert done["status"] == "completed" and done["result"] == "shipped"
    return str(created["id"])


async def _console_run(services: Services, clock: ManualClock) -> str:
    screen = ConsoleScreen(io.StringIO())
    dispatcher = OutboxDispatcher(services.store, clock=clock, deliveries=[ConsoleDelivery(screen)])
    console = ConsoleAdapter(CommandRunner(services), dispatcher, screen, user="agent")
    agent = Actor(WORKSPACE, "agent", Source.CONSOLE)
    await console.handle("/session start Ship v2 mode:deploy")
    session = await services.sessions.find(agent, None, channel_id="general")
    ref = str(session.ref)
    await console.handle(f"/session share {ref} @bob approver")
    await console.handle(f"/session plan {ref} build; test; ship")
    await console.handle(f"@bob /session approve {ref}")
    # No chat command reports progress: agents use the Python API (Services) for it.
    await services.progress.record_iteration(agent, ref, data={"step": "build"})
    await services.progress.record_event(agent, ref, EventType.TOOL_CALL, TOOL_CALL)
    await services.progress.record_iteration(agent, ref, data={"step": "test"})
    await console.handle(f"/session note {ref} Build and tests are green.")
    await console.handle(f"/session modify {ref} 1 status:done")
    await console.handle(f"/session context {ref} branch=main")
    await console.handle(f"/session complete {ref} shipped")
    assert "⚠" not in screen.out.getvalue()  # type: ignore[attr-defined]  (no command refused)
    return session.id


async def test_api_run_records_the_same_events_as_the_console_run(
    api: ApiClient, tokens: TokenService, services: Services, clock: ManualClock
) -> None:
    api_session = await _api_run(api, tokens)
    console_session = await _console_run(services, clock)

    by_api = await _events(services.store, api_session)
    by_console = await _events(services.store, console_session)

    kinds = [e.type.value for e in by_api]
    assert kinds == [
        "created", "shared", "plan_submitted", "plan_approved", "iteration", "tool_call",
        "iteration", "modification", "context_updated", "completed",
    ]  # fmt: skip
    assert _normalised(by_api) == _normalised(by_console)
    assert {e.source for e in by_api} == {Source.API}
    assert {e.source for e in by_console} == {Source.CONSOLE}
    api_final = await services.store.sessions.by_id(api_session)
    console_final = await services.store.sessions.by_id(console_session)
    assert api_final is not None and console_final is not None
    assert (api_final.status, api_final.iterations, api_final.result, api_final.context) == (
        console_final.status,
        console_final.iterations,
        console_final.result,
        console_final.context,
    )
    api_messages = await services.store.history.after(api_session, after_seq=0, limit=10)
    console_messages = await services.store.history.after(console_session, after_seq=0, limit=10)
    assert [(m.role, m.author_id, m.content) for m in api_messages] == [
        (m.role, m.author_id, m.content) for m in console_messages
    ]
