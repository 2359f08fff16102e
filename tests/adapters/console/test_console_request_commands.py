"""The request commands typed in the real console process: `requests`, `reject <request id>`
with and without a reason, and `answer`."""

from __future__ import annotations

from pathlib import Path

from bot.app import open_core
from bot.config import Config
from core.clock import ManualClock
from core.models import Actor, ChatRef, Role, Source
from core.records.requests import RequestKind, RequestStatus
from core.services.requests import Ask
from tests.adapters.console.test_console_requests import WORKSPACE
from tests.adapters.console.test_console_script import run_console


async def test_requests_reject_and_answer_typed_in_the_console(
    tmp_path: Path, clock: ManualClock
) -> None:
    config = Config(database_url=f"sqlite:///{tmp_path / 's.db'}")
    you = Actor(WORKSPACE, "you", Source.CONSOLE)  # the console's default user
    core = await open_core(config, clock=clock)
    try:
        await core.services.sessions.start(you, ChatRef("console", WORKSPACE, "general"), "v2")
        await core.services.members.share(you, "1", "bob", role=Role.APPROVER)
        deploy = Ask(RequestKind.ACTION, action="deploy", args={"version": "1.2"})
        action = await core.services.requests.create(you, "1", deploy)
        region = Ask(RequestKind.QUESTION, question="Which region?", free_text=True)
        question = await core.services.requests.create(you, "1", region)
    finally:
        await core.close()

    script = (
        f"@bob requests\n@bob reject {action.id}\n@bob reject {action.id} not during the freeze\n"
        f"answer {question.id} eu, then us\n"
    )
    result = run_console(tmp_path / "s.db", script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Requests waiting for you (1)" in out and f"{action.id} · `deploy`" in out
    assert "Say why: the agent receives the reason." in out
    assert "Rejected by @bob — not during the freeze" in out
    assert "Answered by @you: eu, then us" in out

    core = await open_core(config, clock=clock)
    try:
        _, rejected = await core.services.requests.get(you, action.id)
        _, answered = await core.services.requests.get(you, question.id)
    finally:
        await core.close()
    assert (rejected.status, rejected.reason) == (RequestStatus.REJECTED, "not during the freeze")
    assert (answered.status, answered.answer) == (RequestStatus.ANSWERED, "eu, then us")
