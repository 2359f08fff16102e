"""`sessionbot-mcp` spawned over stdio by the official `mcp` client, against a real
`sessionbot serve`: the tools are listed, `request_approval` returns once an approver decides
through the API, and bad input comes back as a tool error."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.client.conftest import Live
from tests.client.live import ROOT, until

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
