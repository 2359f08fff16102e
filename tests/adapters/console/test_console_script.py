"""The console end to end: a piped script through the real `sessionbot console` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """\
start Deploy v2.3 to prod mode:deploy
share 1 @bob approver
plan Back up the database; Run migrations
@bob /session approve 1
pause 1 waiting for the window
resume 1
complete 1 shipped
list all
stats
"""


def run_console(db: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_LOG_LEVEL": "warning",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


def test_piped_script_prints_replies_and_notifications(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected_in_order = [
        "Session #1 Deploy v2.3 to prod: started by @you (deploy)",
        "[#general] Session #1 Deploy v2.3 to prod",  # the session card
        "shared with @bob as approver",
        "plan v1 with 2 items submitted for approval",
        "[#general] Plan v1 for #1 Deploy v2.3 to prod",  # top-level plan message
        "[1] Approve  [2] Reject",
        "[#general ↳ thread m1] Session #1 Deploy v2.3 to prod: plan v1 posted",
        "plan v1 approved by @bob; session is active",
        "✎ m3] Plan v1 for #1 Deploy v2.3 to prod",  # the plan message, edited in place
        "Approved by @bob at",
        "[#general ↳ thread m1] Session #1 Deploy v2.3 to prod plan v1 approved by @bob",
        "paused by @you — waiting for the window",
        "[#general ↳ thread m1] Session #1 Deploy v2.3 to prod paused by @you",
        "Session #1 Deploy v2.3 to prod resumed by @you",
        "completed by @you — shipped",
        "[#general ↳ thread m1] Session #1 Deploy v2.3 to prod completed by @you",
        "Sessions: all (1)",
        "#1 · Deploy v2.3 to prod · completed · deploy · @you",
        "Stats for the last 30 days",
        "Success rate: 100%",
        "By status: completed: 1",
    ]
    position = 0
    for fragment in expected_in_order:
        found = out.find(fragment, position)
        assert found >= 0, f"missing (in order): {fragment!r}\n---\n{out}"
        position = found
    assert "shared with @bob as approver by @you" in out
    approved_buttons = out[out.find("✎ m3") :]
    assert "[3] Approve" not in approved_buttons, "a decided plan still shows buttons"


def test_second_run_sees_the_first_runs_sessions(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert run_console(db, SCRIPT).returncode == 0
    second = run_console(db, "start Second one\nlist all\n")
    assert second.returncode == 0, second.stderr
    assert "Session #2 Second one: started" in second.stdout
    assert "Sessions: all (2)" in second.stdout
    assert "#1 · Deploy v2.3 to prod · completed" in second.stdout


def test_buttons_are_clicked_by_number(tmp_path: Path) -> None:
    script = "start Rollout\nshare 1 @amy approver\nplan Canary; Full\n@amy !2 too early\n"
    result = run_console(tmp_path / "s.db", script)
    assert result.returncode == 0, result.stderr
    assert "plan v1 rejected by @amy — too early; session is paused" in result.stdout


def test_refusals_and_typos_are_errors_not_crashes(tmp_path: Path) -> None:
    script = "start Locked\nplan One\n@mallory approve 1\npaus 1\n!9\nshow 99\n"
    result = run_console(tmp_path / "s.db", script)
    assert result.returncode == 0, result.stderr
    assert "You can't approve or reject this plan" in result.stdout
    assert "Did you mean `pause`?" in result.stdout
    assert "No button !9 on screen" in result.stdout
    assert "No session #99 in this workspace." in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_database_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "sessions.db"
    assert run_console(db, "start Private\n").returncode == 0
    assert (db.stat().st_mode & 0o777) == 0o600


def test_bad_configuration_stops_start_naming_the_variable(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", "", SESSIONBOT_ABANDON_AFTER="soon")
    assert result.returncode == 2
    assert "SESSIONBOT_ABANDON_AFTER" in result.stderr
