"""`sessionbot-mcp`: sessionbot as tools for any MCP client (stdio, or streamable HTTP).

A client of the REST API through `AsyncSessionbot` (configured by `SESSIONBOT_URL` and
`SESSIONBOT_TOKEN`). Every failure reaches the model as a tool error with a clear message.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from sessionbot_client import flows
from sessionbot_client.client import AsyncSessionbot
from sessionbot_client.errors import Expired, Rejected, SessionbotError, StillPending
from sessionbot_client.flows import Json

INSTRUCTIONS = (
    "sessionbot puts a person in your loop through the team's chat. Start a session for a "
    "piece of work, post your plan, and before any consequential or irreversible step call "
    "request_approval and wait for its answer; use ask_human when you need a decision or a "
    "fact only a person has. Log progress as you go and finish the session at the end."
)


def _failed(exc: SessionbotError) -> ToolError:
    return ToolError(f"sessionbot refused or failed: {exc}")


def build_server(bot: AsyncSessionbot) -> MCPServer:
    """The MCP server's tools, each one call (or a wait) of the REST API through `bot`."""
    server: MCPServer = MCPServer("sessionbot", instructions=INSTRUCTIONS)

    @server.tool()
    async def start_session(title: str, plan: list[str] | None = None) -> Json:
        """Start a work session that people can follow and approve in chat. Call this once at
        the start of a task. `title` says what the work is; `plan` optionally lists the steps.
        Returns the session: keep its `ref` (a number) for the other tools."""
        try:
            session = await bot.start_session(title, plan=plan or None)
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {"ref": session["ref"], "id": session["id"], "status": session["status"]}

    @server.tool()
    async def post_plan(session: int, steps: list[str]) -> Json:
        """Post (or replace) the plan of a session: the ordered steps you intend to take.
        People approve or reject the plan in chat; check with session_status."""
        try:
            plan = await bot.submit_plan(session, steps)
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {"plan_status": plan["status"], "steps": [i["title"] for i in plan["items"]]}

    @server.tool()
    async def request_approval(
        session: int,
        action: str,
        args: dict[str, Any],
        summary: str = "",
        risk: Literal["low", "high"] = "low",
        timeout_seconds: int = 600,
        request_id: str | None = None,
    ) -> Json:
        """Ask a person to approve one action before you take it, and wait for the decision
        (up to `timeout_seconds`). `action` is a short name (letters, digits, `_ . : / -`,
        e.g. `deploy`), `args` the exact arguments you would run it with, `summary` one
        sentence for the approver. The result's `decision` is `approved` (then run the action
        with the returned `args`: the approver may have edited them), `rejected` (do not run
        it; read `reason`), `expired`, or `pending` (nobody decided in time: do not run it).
        To keep waiting for a `pending` one, call again with its `request_id` (the same
        session, action and args): that waits for the same request instead of asking twice."""
        try:
            if request_id:
                approved = flows.approved(await bot.wait_for(request_id, timeout=timeout_seconds))
            else:
                approved = await bot.request_approval(
                    session,
                    action,
                    args,
                    summary=summary or None,
                    risk=risk,
                    timeout=timeout_seconds,
                )
        except Rejected as exc:
            return {"decision": "rejected", "reason": exc.reason, "by": exc.by}
        except Expired as exc:
            return {"decision": "expired", "request_id": exc.request_id}
        except StillPending as exc:
            return {"decision": "pending", "request_id": exc.request_id}
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {
            "decision": "approved",
            "args": approved.args,
            "edited": approved.edited,
            "by": approved.by,
        }

    @server.tool()
    async def ask_human(
        session: int,
        question: str,
        choices: list[str] | None = None,
        timeout_seconds: int = 600,
    ) -> Json:
        """Ask the people following the session a question and wait for the first answer (up
        to `timeout_seconds`). Give `choices` to offer buttons; without them people answer in
        words. Returns `answer` and who answered, or `answered: false` when nobody did."""
        try:
            answer = await bot.ask(
                session,
                question,
                choices=choices or None,
                free_text=True,
                timeout=timeout_seconds,
            )
        except (Expired, StillPending, Rejected) as exc:
            return {"answered": False, "request_id": exc.request_id}
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {"answered": True, "answer": answer.text, "choice": answer.choice, "by": answer.by}

    @server.tool()
    async def log_progress(session: int, message: str) -> Json:
        """Record what you just did or found, in a sentence or two, in the session's log
        (people read it in chat). Also counts an iteration and keeps the session alive."""
        try:
            posted = await bot.post_message(session, message, role="assistant")
            await bot.record_iteration(session)
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {"logged": True, "seq": posted["seq"]}

    @server.tool()
    async def finish_session(
        session: int, outcome: Literal["completed", "failed"], summary: str
    ) -> Json:
        """End the session when the work is done (`completed`) or cannot be done (`failed`),
        with a one-line `summary` of the result or the reason."""
        try:
            if outcome == "completed":
                ended = await bot.complete(session, summary)
            else:
                ended = await bot.fail(session, summary)
        except SessionbotError as exc:
            raise _failed(exc) from None
        return {"status": ended["status"]}

    @server.tool()
    async def session_status(session: int) -> Json:
        """The session's status, its plan's status and the requests still waiting for a
        person: use it to check on a plan or a request that was still pending."""
        try:
            detail = await bot.get_session(session)
            waiting = await bot.requests(session, status="pending")
        except SessionbotError as exc:
            raise _failed(exc) from None
        plan = detail["plan"]
        return {
            "status": detail["session"]["status"],
            "title": detail["session"]["title"],
            "plan_status": plan["status"] if plan else None,
            "pending_requests": [
                {"id": r["id"], "action": r["action"], "question": r["question"]} for r in waiting
            ],
        }

    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sessionbot-mcp",
        description="sessionbot's tools for MCP clients (reads SESSIONBOT_URL, SESSIONBOT_TOKEN).",
    )
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per API call
    try:
        bot = AsyncSessionbot()
    except SessionbotError as exc:
        parser.exit(2, f"sessionbot-mcp: {exc}\n")
    server = build_server(bot)
    if args.transport == "streamable-http":
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run("stdio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
