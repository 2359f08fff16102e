"""Several processes opening one new SQLite file at once: migrations are applied once, in turn."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from core.store import migrations

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 5


def test_processes_creating_tokens_on_one_new_database_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "sessions.db"
    go = tmp_path / "go"
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_LOG_LEVEL": "warning",
    }
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.store.barrier_cli",
                str(go),
                "token",
                "create",
                "--workspace",
                "console:local",
                "--name",
                f"agent-{n}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    go.touch()
    results = []
    for child in children:
        try:
            out, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            for other in children:
                other.kill()
            raise
        results.append((child.returncode, out, err))
    assert [code for code, _, _ in results] == [0] * PROCESSES, results
    assert all(out.startswith("sbt_") for _, out, _ in results), results
    with sqlite3.connect(db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        tokens = conn.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0]
    assert sorted(versions) == [m.version for m in migrations.load("sqlite")]
    assert tokens == PROCESSES
