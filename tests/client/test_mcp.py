"""`sessionbot-mcp` spawned over stdio by the official `mcp` client, against a real
`sessionbot serve`: the tools are listed, `request_approval` returns once an approver decides
through the API, and bad input comes back as a tool error."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.client.conftest import Live
from tests.client.live import ROOT, free_port, until

TOOLS = {
    "start_session",
    "post_plan",
    "request_approval",
    "ask_human",
    "log_progress",
    "finish_session",
    "session_status",
}


def server_params(live: Live) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(Path(sys.executable).parent / "sessionbot-mcp"),
        env={
            "SESSIONBOT_URL": live.server.url,
            "SESSIONBOT_TOKEN": live.agent_token,
            "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
        },
    )


def result_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(json.loads(result.content[0].text))


def approve_when_pending(live: Live, ref: int, args: dict[str, Any]) -> None:
    with live.approver() as bob:
        until(lambda: len(bob.requests(ref, status="pending")) == 1, "the request is pending")
        (request,) = bob.requests(ref, status="pending")
        bob.approve(request["id"], args=args)


async def test_an_mcp_client_lists_the_tools_and_waits_for_an_approval(live: Live) -> None:
    async with (
        stdio_client(server_params(live)) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        listed = await mcp.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        assert all(t.description and len(t.description) > 40 for t in listed.tools)

        started = result_of(await mcp.call_tool("start_session", {"title": "Deploy v2"}))
        ref = int(started["ref"])
        with live.agent() as agent:
            await asyncio.to_thread(agent.share, ref, "bob", "approver")
        calling = asyncio.ensure_future(
            mcp.call_tool(
                "request_approval",
                {"session": ref, "action": "deploy", "args": {"version": "1.2"}},
            )
        )
        await asyncio.to_thread(approve_when_pending, live, ref, {"version": "1.3"})
        decided = result_of(await asyncio.wait_for(calling, 60))
        assert decided["decision"] == "approved"
        assert (decided["args"], decided["edited"], decided["by"]) == (
            {"version": "1.3"},
            True,
            "bob",
        )

        status = result_of(await mcp.call_tool("session_status", {"session": ref}))
        assert status["status"] == "active" and status["pending_requests"] == []


async def test_bad_arguments_come_back_as_tool_errors(live: Live) -> None:
    async with (
        stdio_client(server_params(live)) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        ref = int(result_of(await mcp.call_tool("start_session", {"title": "Try"}))["ref"])
        bad_risk = await mcp.call_tool(
            "request_approval", {"session": ref, "action": "deploy", "args": {}, "risk": "huge"}
        )
        assert bad_risk.is_error and "risk" in bad_risk.content[0].text
        refused = await mcp.call_tool(
            "request_approval", {"session": ref, "action": "two words", "args": {}}
        )
        assert refused.is_error and "action" in refused.content[0].text
        missing = await mcp.call_tool("session_status", {"session": 999})
        assert missing.is_error and "404" in missing.content[0].text
        # the server is still there after the errors, and nothing was created
        status = result_of(await mcp.call_tool("session_status", {"session": ref}))
        assert status["pending_requests"] == []


async def test_the_same_tools_over_streamable_http(live: Live) -> None:
    """`sessionbot-mcp --transport streamable-http` on 127.0.0.1: an MCP client over HTTP
    lists the tools and starts a session that the API then shows."""
    port = free_port()
    params = server_params(live)
    process = await asyncio.create_subprocess_exec(
        params.command,
        *("--transport", "streamable-http", "--port", str(port)),
        env={**os.environ, **(params.env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(until, lambda: accepts(port), "sessionbot-mcp listens")
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, *_),
            ClientSession(read, write) as mcp,
        ):
            await mcp.initialize()
            assert {t.name for t in (await mcp.list_tools()).tools} == TOOLS
            started = result_of(await mcp.call_tool("start_session", {"title": "Over HTTP"}))
        with live.agent() as agent:
            shown = await asyncio.to_thread(agent.get_session, int(started["ref"]))
        assert shown["session"]["title"] == "Over HTTP"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def test_a_pending_approval_is_waited_for_again_by_its_id_not_asked_twice(
    live: Live,
) -> None:
    async with (
        stdio_client(server_params(live)) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        ref = int(result_of(await mcp.call_tool("start_session", {"title": "Later"}))["ref"])
        with live.agent() as agent:
            await asyncio.to_thread(agent.share, ref, "bob", "approver")
        ask = {"session": ref, "action": "deploy", "args": {"version": "2"}}
        first = result_of(await mcp.call_tool("request_approval", ask | {"timeout_seconds": 1}))
        assert first["decision"] == "pending"
        again = asyncio.ensure_future(
            mcp.call_tool("request_approval", ask | {"request_id": first["request_id"]})
        )
        await asyncio.to_thread(approve_when_pending, live, ref, {"version": "2"})
        decided = result_of(await asyncio.wait_for(again, 60))
        assert (decided["decision"], decided["by"]) == ("approved", "bob")
        with live.agent() as agent:
            every = await asyncio.to_thread(agent.requests, ref)
        assert [r["id"] for r in every] == [first["request_id"]]  # one request, not two
