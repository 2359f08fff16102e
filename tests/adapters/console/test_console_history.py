"""History end to end: a piped script through `sessionbot console`, and `export` / `import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.adapters.console.test_console_script import ROOT, run_console

SCRIPT = """\
start Deploy v2.3 mode:deploy
note 1 deploy failed on node 3
note 1 rolled back to v2.2
note 1 retry after fixing the config
history 1
search deploy AND failed
search roll*
search "rolled back"
search deploy AND
context 1 env=prod retries=3
context 1
export 1 md
fork 1 at:2
history 2
show 2
@mallory note 1 sneaky
@mallory history 1
"""


def in_order(out: str, fragments: list[str]) -> None:
    position = 0
    for fragment in fragments:
        found = out.find(fragment, position)
        assert found >= 0, f"missing (in order): {fragment!r}\n---\n{out}"
        position = found + len(fragment)


def test_note_history_search_context_export_fork(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    in_order(
        out,
        [
            "Session #1 Deploy v2.3: note #1 added by @you",
            "Session #1 Deploy v2.3: note #3 added by @you",
            "History of #1 Deploy v2.3",
            "#3 · ",
            "@you (user): retry after fixing the config",
            "@you (user): deploy failed on node 3",
            "(Page 1 of 1 · newest first)",
            "1 best match for “deploy AND failed”",
            "#1 Deploy v2.3 · message 1 · @you",
            "deploy failed on node 3",
            "1 best match for “roll*”",
            "rolled back to v2.2",
            '1 best match for “"rolled back"”',
            "⚠ Can't search for that: it ends too early",
            "Session #1 Deploy v2.3: context set env, retries by @you",
            "Context of #1 Deploy v2.3",
            '"env": "prod",',
            '"retries": 3',
            "Export of #1 Deploy v2.3 (md)",
            "# Session #1: Deploy v2.3",
            "## Summary",
            "## Transcript",
            "#1 · user · @you",
            "deploy failed on node 3",
            "retry after fixing the config",
            "Session #2 Deploy v2.3 (fork): forked from #1 Deploy v2.3 at message 2 by @you",
            "[#general] Session #2 Deploy v2.3 (fork)",
            "History of #2 Deploy v2.3 (fork)",
            "@you (user): rolled back to v2.2",
            "@you (user): deploy failed on node 3",
            "Session #2 Deploy v2.3 (fork)",
            "Forked from: #1 Deploy v2.3",
            "⚠ You can't change this session: you need to be the owner, an editor or an admin.",
            "History of #1 Deploy v2.3",  # any member of the workspace may read
        ],
    )
    fork_history = out[out.find("History of #2") : out.find("Session #2 Deploy v2.3 (fork)\n")]
    assert "retry after fixing" not in fork_history, "the fork stops at message 2"
    assert "Traceback" not in out + result.stderr


def sessionbot(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}"}
    env["SESSIONBOT_LOG_LEVEL"] = "warning"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_cli_export_and_import_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert run_console(db, "start Ship it\nnote 1 first\nnote 1 second\n").returncode == 0
    dump = tmp_path / "one.json"
    exported = sessionbot(db, "export", "#1", "--output", str(dump))
    assert exported.returncode == 0, exported.stderr
    data = json.loads(dump.read_text(encoding="utf-8"))
    assert [m["content"] for m in data["messages"]] == ["first", "second"]
    other = tmp_path / "other.db"
    imported = sessionbot(other, "import", str(dump), "--workspace", "console:local")
    assert imported.returncode == 0, imported.stderr
    assert "Imported as #1" in imported.stdout and "2 messages" in imported.stdout
    assert "ids kept" in imported.stdout
    markdown = sessionbot(other, "export", "1", "--format", "md")
    assert markdown.returncode == 0, markdown.stderr
    assert "# Session #1: Ship it" in markdown.stdout and "second" in markdown.stdout
    again = sessionbot(db, "import", str(dump))
    assert "Imported as #2" in again.stdout and "new ids" in again.stdout
    dump.write_text(dump.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    refused = sessionbot(db, "import", str(dump))
    assert refused.returncode == 1
    assert "not valid JSON" in refused.stderr and "Nothing was imported" in refused.stderr
    missing = sessionbot(db, "export", "99", "--output", str(tmp_path / "no.json"))
    assert missing.returncode == 1 and "No session #99" in missing.stderr
    assert not (tmp_path / "no.json").exists()
