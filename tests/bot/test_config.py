"""Configuration: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import open_core
from bot.config import DEFAULT_DATABASE_URL, load_config, load_environment
from core.errors import ConfigError, LimitExceeded
from core.history import context
from core.models import Actor, ChatRef, Source


def test_defaults() -> None:
    config = load_config({})
    assert config.database_url == DEFAULT_DATABASE_URL
    assert (config.http_host, config.http_port) == ("127.0.0.1", 3000)
    assert config.defaults.abandon_after == timedelta(hours=24)
    assert not config.chat_configured


def test_values_are_parsed() -> None:
    config = load_config(
        {
            "SESSIONBOT_ABANDON_AFTER": "3s",
            "SESSIONBOT_SWEEP_INTERVAL": "1s",
            "SESSIONBOT_ADMINS": "amy, bob",
            "SESSIONBOT_TIMEZONE": "Europe/Paris",
            "DISCORD_GUILD_IDS": "123,456",
            "SLACK_BOT_TOKEN": "xoxb-1",
        }
    )
    assert config.defaults.abandon_after == timedelta(seconds=3)
    assert config.sweep_interval == timedelta(seconds=1)
    assert config.admins == {"amy", "bob"}
    assert config.discord.guild_ids == (123, 456)
    assert config.chat_configured


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSIONBOT_HTTP_PORT", "http"),
        ("SESSIONBOT_HTTP_PORT", "70000"),
        ("SESSIONBOT_RETENTION", "forever"),
        ("SESSIONBOT_TIMEZONE", "Mars/Olympus"),
        ("SESSIONBOT_LOG_FORMAT", "xml"),
        ("SESSIONBOT_DATABASE_URL", "mysql://x"),
        ("DISCORD_GUILD_IDS", "abc"),
        ("SESSIONBOT_MAX_MESSAGE_BYTES", "10"),
        ("SESSIONBOT_MAX_CONTEXT_BYTES", "lots"),
        ("SESSIONBOT_HISTORY_PAGE_SIZE", "1000"),
        ("SESSIONBOT_MAX_WAITS_PER_TOKEN", "0"),
        ("SESSIONBOT_MAX_WAITS_PER_TOKEN", "many"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({name: value})
    assert caught.value.name == name and name in caught.value.message


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SESSIONBOT_HTTP_PORT=4000\nSESSIONBOT_LOG_LEVEL=debug\n")
    monkeypatch.setenv("SESSIONBOT_HTTP_PORT", "5000")
    values = load_environment(env_file)
    assert values["SESSIONBOT_HTTP_PORT"] == "5000"
    assert values["SESSIONBOT_LOG_LEVEL"] == "debug"


async def test_history_limits_from_the_environment_reach_the_running_bot(tmp_path: Path) -> None:
    """The history feature is configured like the rest: its limits come from the environment."""
    config = load_config(
        {
            "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}",
            "SESSIONBOT_MAX_MESSAGE_BYTES": "2048",
            "SESSIONBOT_MAX_CONTEXT_BYTES": "4096",
            "SESSIONBOT_HISTORY_PAGE_SIZE": "5",
        }
    )
    core = await open_core(config)
    try:
        history = core.services.history
        owner = Actor("console:limits", "ana", Source.CONSOLE)
        session = await core.services.sessions.start(
            owner, ChatRef("console", "console:limits", "c"), "t"
        )
        await history.append(owner, session.id, "x" * 2048)
        with pytest.raises(LimitExceeded, match="2,048 bytes"):
            await history.append(owner, session.id, "x" * 2049)
        with pytest.raises(LimitExceeded, match="4,096 bytes"):
            await context.update(history, owner, session.id, {"big": "y" * 4096})
        for n in range(6):
            await history.append(owner, session.id, f"note {n}")
        page = await history.numbered_page(owner, session.id)
        assert (len(page.messages), page.pages) == (5, 2)
    finally:
        await core.close()
