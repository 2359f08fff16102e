"""The start form through the real Bolt app over signed HTTP, against the fake Web API:
a bare `/session start`, the message shortcut and the global shortcut open it; its submit
starts the session or names the field it refuses."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.views import View as SlackView

from tests.adapters.slack.harness import ALICE, CHANNEL, WORKSPACE, SlackBot
from tests.fakes.slack_api import FakeSlackApi, OpenedView
from tests.fakes.slack_signing import (
    DEFAULT_TEAM_ID,
    interactive_request,
    new_trigger_id,
)

MESSAGE_TS = "1700000100.000200"
OTHER_CHANNEL = "C0002"


def typed(**values: str) -> dict[str, Any]:
    """Slack's `state.values`: text inputs by field, `channel` as a conversation picker."""
    state: dict[str, Any] = {}
    for name, value in values.items():
        if name == "channel":
            state[name] = {name: {"type": "conversations_select", "selected_conversation": value}}
        else:
            state[name] = {name: {"type": "plain_text_input", "value": value}}
    return state


def shortcut(callback_id: str, bot: SlackBot, **message: Any) -> dict[str, Any]:
    """A message shortcut's payload (with `message`) or a global one's (without)."""
    payload: dict[str, Any] = {
        "type": "message_action" if message else "shortcut",
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
        "team": {"id": DEFAULT_TEAM_ID, "domain": "sessionbot-test"},
        "user": {"id": ALICE, "username": "alice", "team_id": DEFAULT_TEAM_ID},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "action_ts": "1700000200.000000",
    }
    if message:
        payload |= {
            "channel": {"id": CHANNEL, "name": "general"},
            "message": {"type": "message", "user": "U0BOB", **message},
            "response_url": bot.fake.response_url("shortcut"),
        }
    return payload


def inputs_of(opened: OpenedView) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in opened.view["blocks"] if b["type"] == "input"}


def start_form_of(fake: FakeSlackApi) -> OpenedView:
    opened = fake.views[-1]
    assert opened.view["callback_id"] == "request_form"
    assert json.loads(opened.view["private_metadata"])["action_id"] == "session_start"
    SlackView(**opened.view).validate_json()  # within Block Kit's limits for modals
    return opened


async def submit(bot: SlackBot, opened: OpenedView, **values: str) -> dict[str, Any]:
    status, body = await bot.send(bot.submit_request(opened, ALICE, typed(**values)))
    assert status == 200
    return json.loads(body) if body else {}


async def test_bare_start_opens_the_start_form(bot: SlackBot, fake: FakeSlackApi) -> None:
    assert await bot.command("start") == []  # the form is the answer
    opened = start_form_of(fake)
    inputs = inputs_of(opened)
    assert list(inputs) == ["title", "mode", "max", "channel"]
    assert inputs["channel"]["type"] == "conversations_select"
    assert inputs["channel"]["initial_conversation"] == CHANNEL
    assert await bot.core.store.sessions.get(WORKSPACE, "1") is None


async def test_submit_starts_the_session_with_the_fields_entered(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    await bot.command("start mode:deploy")
    opened = start_form_of(fake)
    assert inputs_of(opened)["mode"]["initial_value"] == "deploy"  # what was typed stays
    answer = await submit(
        bot, opened, title="Deploy v3", mode="release", max="7", channel=OTHER_CHANNEL
    )
    assert answer == {}  # the modal closes
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None
    assert (session.title, session.mode, session.max_iterations) == ("Deploy v3", "release", 7)
    assert (session.channel_id, session.owner_id) == (OTHER_CHANNEL, ALICE)
    await bot.deliver()
    (card,) = [m for m in fake.messages if m.channel == OTHER_CHANNEL]
    assert card.thread_ts is None and "Deploy v3" in (card.text or "")


async def test_invalid_input_names_the_field_and_creates_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    await bot.command("start")
    opened = start_form_of(fake)
    cases = [
        ({"title": "Deploy", "mode": "two words", "channel": CHANNEL}, "mode"),
        ({"title": "Deploy", "max": "0", "channel": CHANNEL}, "max"),
        ({"title": "Deploy", "max": "many", "channel": CHANNEL}, "max"),
        ({"title": "   ", "channel": CHANNEL}, "title"),
        ({"title": "x" * 201, "channel": CHANNEL}, "title"),
    ]
    for values, field in cases:
        answer = await submit(bot, opened, **values)
        assert answer["response_action"] == "errors"
        assert list(answer["errors"]) == [field], values
    assert await bot.core.store.sessions.get(WORKSPACE, "1") is None
    await bot.deliver()
    assert fake.messages == []


async def test_message_shortcut_prefills_the_form_and_links_the_thread(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    payload = shortcut("start_from_message", bot, ts=MESSAGE_TS, text="Prod is down &amp; paging")
    status, _ = await bot.send(interactive_request(payload))
    assert status == 200
    opened = start_form_of(fake)
    inputs = inputs_of(opened)
    assert list(inputs) == ["title", "mode", "max"]  # the channel is the message's
    assert inputs["title"]["initial_value"] == "Prod is down & paging"
    assert await submit(bot, opened, title="Prod is down & paging", mode="incident") == {}
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None
    assert (session.channel_id, session.thread_ref) == (CHANNEL, MESSAGE_TS)
    await bot.command("pause 1 waiting for the vendor")
    await bot.deliver()
    posted = [m for m in fake.messages if not m.ephemeral]
    assert len(posted) == 2  # the card and the pause notice, both in the message's thread
    assert all((m.channel, m.thread_ts) == (CHANNEL, MESSAGE_TS) for m in posted)


async def test_message_shortcut_in_a_thread_joins_that_thread(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    reply = shortcut(
        "start_from_message", bot, ts="1700000300.000300", thread_ts=MESSAGE_TS, text="Retry"
    )
    await bot.send(interactive_request(reply))
    assert await submit(bot, start_form_of(fake), title="Retry the job") == {}
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None and session.thread_ref == MESSAGE_TS


async def test_global_shortcut_asks_for_the_channel(bot: SlackBot, fake: FakeSlackApi) -> None:
    status, _ = await bot.send(interactive_request(shortcut("start_session", bot)))
    assert status == 200
    opened = start_form_of(fake)
    channel = inputs_of(opened)["channel"]
    assert "initial_conversation" not in channel
    answer = await submit(bot, opened, title="Quarterly audit", channel="")
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["channel"]
    assert await bot.core.store.sessions.get(WORKSPACE, "1") is None
    assert await submit(bot, opened, title="Quarterly audit", channel=OTHER_CHANNEL) == {}
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None and session.channel_id == OTHER_CHANNEL
