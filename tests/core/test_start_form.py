"""The start form in core: a bare `/session start` answers with it, and its submit starts the
session with the rules of the typed command or names the field it refuses."""

from __future__ import annotations

import pytest

from core.models import ChatRef
from core.runner import CommandRunner
from core.start_form import START_ACTION, SourceMessage
from core.wiring import Services
from tests.conftest import CHAT, WS, actor

OWNER = actor("owner")


async def test_bare_start_answers_with_the_form_and_creates_nothing(
    runner: CommandRunner, services: Services
) -> None:
    reply = await runner.run(OWNER, CHAT, "start mode:deploy")
    assert reply is not None and reply.form is not None
    form = reply.form
    assert form.action_id == START_ACTION
    fields = {f.name: f for f in form.fields}
    assert list(fields) == ["title", "mode", "max", "channel"]
    assert (fields["mode"].initial, fields["channel"].initial) == ("deploy", "general")
    assert fields["channel"].kind == "channel" and fields["title"].required
    assert "/session start <title…>" in reply.view.plain_text()  # where no form can open
    assert await services.store.sessions.get(WS, "1") is None


async def test_submit_starts_the_session_with_the_fields(
    runner: CommandRunner, services: Services
) -> None:
    values = {"title": " Deploy v3 ", "mode": "release", "max": "7", "channel": "<#C0123|ops>"}
    reply = await runner.start_form(OWNER, CHAT, values)
    assert reply is not None and reply.view.kind != "error" and not reply.ephemeral
    session = await services.store.sessions.get(WS, "1")
    assert session is not None
    assert (session.title, session.mode, session.max_iterations) == ("Deploy v3", "release", 7)
    assert (session.channel_id, session.thread_ref) == ("C0123", None)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "mode": "two words"}, "mode"),
        ({"title": "ok", "mode": "m" * 41}, "mode"),
        ({"title": "ok", "max": "0"}, "max"),
        ({"title": "ok", "max": "ten"}, "max"),
        ({"title": "ok", "channel": "not a channel"}, "channel"),
    ],
)
async def test_refused_fields_are_named_and_nothing_is_created(
    runner: CommandRunner, services: Services, values: dict[str, str], field: str
) -> None:
    reply = await runner.start_form(OWNER, CHAT, values)
    assert reply is not None and reply.view.kind == "error" and reply.field == field
    assert await services.store.sessions.get(WS, "1") is None


async def test_without_a_channel_the_form_needs_one(
    runner: CommandRunner, services: Services
) -> None:
    nowhere = ChatRef("console", WS, "")
    reply = await runner.start_form(OWNER, nowhere, {"title": "Audit"})
    assert reply is not None and reply.field == "channel"
    assert await services.store.sessions.get(WS, "1") is None


async def test_a_source_message_puts_the_session_in_its_thread(
    runner: CommandRunner, services: Services
) -> None:
    source = SourceMessage("incidents", "1700000100.000200", "Prod is down")
    values = {"title": "Prod is down", "channel": "ignored"}
    await runner.start_form(OWNER, CHAT, values, source=source)
    session = await services.store.sessions.get(WS, "1")
    assert session is not None
    assert (session.channel_id, session.thread_ref) == ("incidents", "1700000100.000200")
