"""manifest.yml parses and declares exactly the command, scopes and settings the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.adapter import BOT_SCOPES
from adapters.slack.handlers import COMMAND
from adapters.slack.shortcuts import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT
from core.clock import ManualClock
from tests.adapters.slack.harness import SlackBot
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import app_home_opened_request

MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_declares_the_one_slash_command(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["should_escape"] is True  # mentions arrive as <@U…|name>
    assert 1 <= len(command["description"]) <= 2000
    assert 1 <= len(command["usage_hint"]) <= 1000


def test_manifest_declares_the_start_shortcuts(manifest: dict[str, Any]) -> None:
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert {k: s["type"] for k, s in shortcuts.items()} == {
        MESSAGE_SHORTCUT: "message",
        GLOBAL_SHORTCUT: "global",
    }
    for shortcut in shortcuts.values():  # the manifest schema's limits
        assert 1 <= len(shortcut["name"]) <= 24 and 1 <= len(shortcut["description"]) <= 150


def test_manifest_requests_exactly_the_scopes_the_code_needs(manifest: dict[str, Any]) -> None:
    assert manifest["oauth_config"]["scopes"] == {"bot": list(BOT_SCOPES)}
    assert set(BOT_SCOPES) == {"commands", "chat:write", "im:write", "users:read"}


def test_manifest_settings_match_the_listeners(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True  # buttons and the Reject modal
    assert settings["socket_mode_enabled"] is True
    # the one event the bot listens to: the Home tab's (adapters/slack/handlers.py)
    assert settings["event_subscriptions"] == {"bot_events": ["app_home_opened"]}
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35 and 1 <= len(info["description"]) <= 140
    assert manifest["features"]["bot_user"]["display_name"]


async def test_ready_when_the_token_has_the_manifest_scopes(bot: SlackBot) -> None:
    assert await bot.adapter.ready_problem() is None
    async with bot.web.get(f"http://127.0.0.1:{bot.http.port}/readyz") as resp:
        assert resp.status == 200
        assert "slack" not in (await resp.json()).get("problems", {})


async def test_a_token_missing_a_scope_is_not_ready(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    fake.scopes = ["commands", "chat:write", "im:write"]
    bot = await SlackBot.start(db_url, fake, clock)
    try:
        assert await bot.adapter.ready_problem() == "missing scopes: users:read"
    finally:
        await bot.close()


def test_manifest_turns_the_home_tab_on(manifest: dict[str, Any]) -> None:
    app_home = manifest["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
    assert app_home["messages_tab_enabled"] is True


async def test_the_app_listens_to_every_event_the_manifest_subscribes(
    manifest: dict[str, Any], bot: SlackBot
) -> None:
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event == "app_home_opened"  # the only one this test knows how to send
        status, _ = await bot.send(app_home_opened_request())
        assert status == 200
    assert [c.method for c in bot.fake.calls if c.method == "views.publish"] == ["views.publish"]
