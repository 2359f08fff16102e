"""An agent's request decided with the console's numbered buttons (the real console process)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import open_core
from bot.config import Config
from core.clock import ManualClock
from core.models import Actor, Source
from core.records.requests import Request, RequestKind, RequestStatus, Risk
from core.services.requests import Ask
from tests.adapters.console.test_console_script import run_console

WORKSPACE = "console:local"
SETUP = """\
start Deploy v2.3
share 1 @bob approver
"""
DEPLOY = Ask(RequestKind.ACTION, action="deploy", args={"version": "1.2"})


def console_out(db: Path, script: str) -> str:
    """What a real console process prints running `script` (it must end well)."""
    result = run_console(db, script)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_approve_button_decides_a_request_and_the_message_is_updated(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "s.db"
    agent, request_id = await ask_in_console(db, clock, DEPLOY)

    out = console_out(db, "@carol !1\n@bob !1\n")
    assert "Approve `deploy`?" in out and "version: `1.2`" in out
    assert "⚠ You can't approve or reject" in out  # carol is no approver
    assert "[1] Approve  [2] Edit  [3] Reject" in out
    assert "[#general ✎ m1]   Approved by @bob" in out  # the message edited in place

    decided = await waited(db, clock, agent, request_id)
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "bob"


async def ask_in_console(
    db: Path, clock: ManualClock, ask: Ask, setup: str = SETUP
) -> tuple[Actor, str]:
    """Set the session up with the console, then let its owner's agent ask (as the API would)."""
    assert run_console(db, setup).returncode == 0
    core = await open_core(Config(database_url=f"sqlite:///{db}"), clock=clock)
    try:
        owner = (await core.store.sessions.get(WORKSPACE, "1")).owner_id  # type: ignore[union-attr]
        agent = Actor(WORKSPACE, owner, Source.CONSOLE)
        request = await core.services.requests.create(agent, "1", ask)
    finally:
        await core.close()
    return agent, request.id


async def waited(db: Path, clock: ManualClock, agent: Actor, request_id: str) -> Request:
    """What the agent's wait returns now that the console process has ended."""
    core = await open_core(Config(database_url=f"sqlite:///{db}"), clock=clock)
    try:
        return await core.services.requests.wait(agent, request_id, timedelta(0))
    finally:
        await core.close()


async def test_edit_shows_the_args_refuses_bad_json_and_approves_the_edited_args(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "s.db"
    agent, request_id = await ask_in_console(db, clock, DEPLOY)
    script = '@bob !2\n@bob !edit {"version": 1.3\n@carol !edit {"version": "9"}\n'
    out = console_out(db, script + '@bob !edit {"version": "1.3"}\n')
    assert "[1] Approve  [2] Edit  [3] Reject" in out
    assert 'Arguments (a JSON object), now:\n    {\n      "version": "1.2"\n    }' in out
    assert "Type: !2 {json}" in out
    assert "⚠ The arguments are not valid JSON." in out
    assert "⚠ You can't approve or reject" in out  # carol is no approver
    assert "[#general ✎ m1]   version: `1.3`" in out  # the message edited in place
    decided = await waited(db, clock, agent, request_id)
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "bob"
    assert (decided.args, decided.final_args) == ({"version": "1.2"}, {"version": "1.3"})


async def test_high_risk_approve_needs_the_typed_name(tmp_path: Path, clock: ManualClock) -> None:
    db = tmp_path / "s.db"
    ask = Ask(RequestKind.ACTION, action="deploy", args={"v": 1}, risk=Risk.HIGH, need=1)
    agent, request_id = await ask_in_console(db, clock, ask)
    out = console_out(db, "@bob !1\n@bob !1 deploy-prod\n@bob !1 deploy\n")
    assert "approving it needs its name typed" in out and "Type: !1 deploy" in out
    assert "⚠ This is a high-risk action: type its name `deploy` to approve it." in out
    assert out.count("Approved by @bob") >= 2  # the reply and the message edited in place
    decided = await waited(db, clock, agent, request_id)
    assert decided.status is RequestStatus.APPROVED


async def test_a_free_text_answer_reaches_the_agent_with_the_answerer(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "s.db"
    ask = Ask(RequestKind.QUESTION, question="Which window?", free_text=True)
    agent, request_id = await ask_in_console(db, clock, ask, SETUP + "share 1 @carol editor\n")
    out = console_out(db, "@carol !1 tonight after 18:00\n")
    assert "[1] Answer" in out and "Answered by @carol: tonight after 18:00" in out
    answered = await waited(db, clock, agent, request_id)
    assert (answered.status, answered.answer) == (RequestStatus.ANSWERED, "tonight after 18:00")
    assert answered.decided_by == "carol"
