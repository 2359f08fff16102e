"""The `sessionbot` command line as an operator runs it: `db`, `--version`, `--help`, `sessions`."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from rich.console import Console

from bot.cli import _parser
from bot.config import VARIABLES, load_config
from bot.ops_cli import sessions_command
from tests.bot.test_serve import _free_port, _get, _wait_ready

ROOT = Path(__file__).resolve().parents[2]


def sessionbot(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_LOG_LEVEL": "warning",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60,
    )  # fmt: skip


def test_db_migrate_then_check(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    first = sessionbot(db, "db", "migrate")
    assert first.returncode == 0 and "Applied 0001_init" in first.stdout
    again = sessionbot(db, "db", "migrate")
    assert again.returncode == 0 and "Nothing to apply" in again.stdout
    check = sessionbot(db, "db", "check")
    assert check.returncode == 0 and check.stdout.strip().endswith("ok")


def test_db_check_reports_broken_references(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    assert sessionbot(db, "db", "migrate").returncode == 0
    with sqlite3.connect(db) as conn:  # foreign keys are off in this raw connection
        conn.execute(
            "INSERT INTO members (session_id, user_id, role) VALUES ('gone', 'u', 'editor')"
        )
    check = sessionbot(db, "db", "check")
    assert check.returncode == 1 and "foreign key" in check.stdout


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    assert sessionbot(db, "db", "migrate").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    result = sessionbot(db, "console")
    assert result.returncode == 1
    assert "newer than this sessionbot" in result.stderr and "Traceback" not in result.stderr


# -- the command line like other tools: --version, --help, sessions list for scripts ----------

LONG_TITLE = "Rotate every signing key of the payment gateway before the auditors arrive on Monday"


def _plain_env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_LOG_LEVEL": "warning",
        **extra,
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN", "COLUMNS"):
        env.pop(name, None)
    return env


def _two_sessions(db: Path) -> None:
    script = f"start {LONG_TITLE} mode:deploy\n@bob start Other work\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console"], input=script, capture_output=True, text=True,
        cwd=ROOT, env=_plain_env(db), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = sessionbot(tmp_path / "unused.db", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sessionbot {version('sessionbot')}\n"


def test_help_lists_every_environment_variable_and_no_spec_reference(tmp_path: Path) -> None:
    result = sessionbot(tmp_path / "unused.db", "--help")
    assert result.returncode == 0, result.stderr
    assert [v.name for v in VARIABLES if f"  {v.name}=" not in result.stdout] == []
    assert "SESSIONBOT_DATABASE_URL=sqlite:///./data/sessions.db" in result.stdout
    texts = [result.stdout, *(_every_help(_parser()))]
    assert [t.splitlines()[0] for t in texts if "§" in t] == []


def _every_help(parser: argparse.ArgumentParser) -> list[str]:
    """The --help text of every subcommand, however deep."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += [sub.format_help(), *_every_help(sub)]
    return found


def test_sessions_list_json_is_the_api_representation(tmp_path: Path) -> None:
    db = tmp_path / "list.db"
    _two_sessions(db)
    result = sessionbot(db, "sessions", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(s["ref"], s["title"], s["owner_id"]) for s in listed] == [
        (2, "Other work", "bob"),
        (1, LONG_TITLE, "you"),
    ]
    assert set(listed[0]) == _api_session_fields(db)
    empty = sessionbot(db, "sessions", "list", "--json", "--workspace", "slack:T1")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []


def _api_session_fields(db: Path) -> set[str]:
    """The fields of a session in the REST API's OpenAPI document, from a running serve,
    which also says at start that it runs without chat."""
    port = _free_port()
    env = _plain_env(db, SESSIONBOT_HTTP_PORT=str(port), SESSIONBOT_LOG_LEVEL="info")
    served = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/healthz", time.monotonic() + 30)
        _, document = _get(f"{base}/api/v1/openapi.json")
    finally:
        served.send_signal(signal.SIGTERM)
        _, log = served.communicate(timeout=15)
    assert served.returncode == 0, log
    assert "no chat adapter configured: serving the HTTP API only" in log
    schema = document["components"]["schemas"]["Session"]  # type: ignore[index]
    return set(schema["properties"])


def test_sessions_list_piped_is_tab_separated_and_whole(tmp_path: Path) -> None:
    db = tmp_path / "piped.db"
    _two_sessions(db)
    result = sessionbot(db, "sessions", "list")  # stdout is a pipe, not a terminal
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[:6] for row in rows] == [
        ["console:local", "#2", "Other work", "bob", "active", "developer"],
        ["console:local", "#1", LONG_TITLE, "you", "active", "deploy"],
    ]
    assert all(len(row) == 8 for row in rows)
    assert "2 shown of 2" in result.stderr
    shown = sessionbot(db, "sessions", "show", "1")
    assert shown.returncode == 0 and LONG_TITLE in shown.stdout


async def test_sessions_list_on_a_terminal_is_a_table(tmp_path: Path) -> None:
    db = tmp_path / "terminal.db"
    _two_sessions(db)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120, color_system=None)
    args = _parser().parse_args(["sessions", "list"])
    config = load_config({"SESSIONBOT_DATABASE_URL": f"sqlite:///{db}"})
    assert await sessions_command(config, args, console=terminal) == 0
    text = screen.getvalue()
    assert "Sessions (all)" in text and "2 shown of 2" in text
    assert "\t" not in text and "Other work" in text and "workspace" in text


HOSTILE_TITLE = "[link=https://evil.example]Quarterly report[/link] \x1b[2J"
BROKEN_MARKUP = "closing [/] tag\tand\nnewline"
HOSTILE_ITEM = "[bold]item[/bold] \x1b]8;;https://evil.example\x07click"


def _hostile_sessions(db: Path) -> None:
    """Two sessions and a plan whose titles carry rich markup and terminal escapes, as a chat
    user may write them."""
    script = 'start first\nplan "one" "two"\n@bob start second\n'
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console"], input=script, capture_output=True, text=True,
        cwd=ROOT, env=_plain_env(db), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET title = ? WHERE ref = 1", (HOSTILE_TITLE,))
        conn.execute("UPDATE sessions SET title = ? WHERE ref = 2", (BROKEN_MARKUP,))
        conn.execute("UPDATE plan_items SET title = ? WHERE position = 1", (HOSTILE_ITEM,))
    conn.close()


async def test_sessions_tables_show_user_markup_and_escapes_as_plain_text(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hostile.db"
    _hostile_sessions(db)
    config = load_config({"SESSIONBOT_DATABASE_URL": f"sqlite:///{db}"})
    texts = []
    for argv in (["sessions", "list"], ["sessions", "show", "1"]):
        screen = io.StringIO()
        terminal = Console(file=screen, force_terminal=True, width=200, color_system=None)
        assert await sessions_command(config, _parser().parse_args(argv), console=terminal) == 0
        texts.append(screen.getvalue())
    listed, shown = texts
    assert "[link=https://evil.example]Quarterly report[/link] ?[2J" in listed
    assert "closing [/] tag" in listed
    assert "[bold]item[/bold] ?]8;;https://evil.example?click" in shown
    assert "\x1b]8" not in listed + shown and "\x1b[2J" not in listed + shown


def test_sessions_list_piped_keeps_hostile_titles_in_their_column(tmp_path: Path) -> None:
    db = tmp_path / "hostile-piped.db"
    _hostile_sessions(db)
    result = sessionbot(db, "sessions", "list")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[2] for row in rows] == [
        "closing [/] tag and newline",
        "[link=https://evil.example]Quarterly report[/link] ?[2J",
    ]
    assert all(len(row) == 8 for row in rows) and "\x1b" not in result.stdout
