"""The `sessionbot db` commands as an operator runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

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
