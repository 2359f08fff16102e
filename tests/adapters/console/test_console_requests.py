"""An agent's request decided with the console's numbered buttons (the real console process)."""

from __future__ import annotations

from pathlib import Path

from bot.app import open_core
from bot.config import Config
from core.clock import ManualClock
from core.models import Actor, Source
from core.records.requests import RequestKind, RequestStatus
from core.services.requests import Ask
from tests.adapters.console.test_console_script import run_console

WORKSPACE = "console:local"
SETUP = """\
start Deploy v2.3
share 1 @bob approver
"""


async def test_approve_button_decides_a_request_and_the_message_is_updated(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "s.db"
    assert run_console(db, SETUP).returncode == 0
    config = Config(database_url=f"sqlite:///{db}")
    core = await open_core(config, clock=clock)
    try:
        owner = (await core.store.sessions.get(WORKSPACE, "1")).owner_id  # type: ignore[union-attr]
        agent = Actor(WORKSPACE, owner, Source.CONSOLE)
        ask = Ask(RequestKind.ACTION, action="deploy", args={"version": "1.2"})
        request = await core.services.requests.create(agent, "1", ask)
    finally:
        await core.close()

    result = run_console(db, "@carol !1\n@bob !1\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Approve `deploy`?" in out and "version: `1.2`" in out
    assert "⚠ You can't approve or reject" in out  # carol is no approver
    assert "[1] Approve  [2] Edit  [3] Reject" in out
    assert "[#general ✎ m1]   Approved by @bob" in out  # the message edited in place

    core = await open_core(config, clock=clock)
    try:
        _, decided = await core.services.requests.get(agent, request.id)
    finally:
        await core.close()
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "bob"
