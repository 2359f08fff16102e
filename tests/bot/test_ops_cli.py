"""`sessionbot db backup|restore` and `sessions list|show` as an operator runs them: real
processes, real SQLite files, a writer process under load and a running `sessionbot serve`."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store.sqlite import backup
from core.store.sqlite.lock import DatabaseLock
from core.store.sqlite.store import SqliteStore
from tests.bot.test_serve import _free_port, _get, _wait_ready

ROOT = Path(__file__).resolve().parents[2]


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_LOG_LEVEL": "warning",
        "COLUMNS": "200",
        **extra,
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN"):
        env.pop(name, None)
    return env


def sessionbot(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(db),
        timeout=60,
    )


def _console(db: Path, script: str) -> None:
    done = sessionbot(db, "console", stdin=script)
    assert done.returncode == 0, done.stderr


def _titles(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT title FROM sessions ORDER BY ref")]


class _Writer:
    """The crash-test writer child (16 tasks writing through Services), its acks read
    continuously on a thread so it never blocks on a full pipe."""

    def __init__(self, url: str) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-m", "tests.store.crash_writer", url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.acked: list[str] = []
        self._more = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            with self._more:
                self.acked.append(line.strip())
                self._more.notify_all()

    def wait_for(self, count: int) -> list[str]:
        """Block until `count` writes are acknowledged (bounded, a safety net only)."""
        with self._more:
            ok = self._more.wait_for(lambda: len(self.acked) >= count, timeout=60)
            assert ok, f"the writer acknowledged only {len(self.acked)} writes"
            return list(self.acked)

    def kill(self) -> None:
        self.child.kill()
        self.child.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.child.stdout is not None:
            self.child.stdout.close()


async def _missing(db: Path, acknowledged: list[str]) -> list[str]:
    store = SqliteStore(f"sqlite:///{db}")
    await store.open()
    lost = []
    try:
        for line in acknowledged:
            kind, *rest = line.split()
            if kind == "session":
                found = await store.sessions.by_id(rest[0]) is not None
            else:
                found = (
                    await store.engine.fetchone(
                        "SELECT 1 FROM events WHERE session_id = ? AND seq = ?",
                        (rest[0], int(rest[1])),
                    )
                    is not None
                )
            if not found:
                lost.append(line)
    finally:
        await store.close()
    return lost


def test_backup_during_a_write_load_restores_every_acknowledged_write(tmp_path: Path) -> None:
    live, saved, restored = tmp_path / "live.db", tmp_path / "saved.db", tmp_path / "restored.db"
    writer = _Writer(f"sqlite:///{live}")
    try:
        before = writer.wait_for(500)  # acknowledged before the backup began
        made = sessionbot(live, "db", "backup", str(saved))
        during = len(writer.acked)
        writer.wait_for(during + 100)  # the bot's writes never stopped for the backup
    finally:
        writer.kill()
    assert made.returncode == 0, made.stderr
    assert "integrity ok" in made.stdout
    assert during > len(before), "no write was acknowledged while the backup ran"
    assert not Path(f"{saved}-wal").exists(), "a backup is one self-contained file"
    assert oct(saved.stat().st_mode & 0o777) == "0o600"

    put_back = sessionbot(restored, "db", "restore", str(saved))
    assert put_back.returncode == 0, put_back.stderr
    check = sessionbot(restored, "db", "check")
    assert check.returncode == 0 and check.stdout.strip().endswith("ok"), check.stdout
    assert asyncio.run(_missing(restored, before)) == []


def test_restore_is_refused_while_the_bot_runs_on_the_file(tmp_path: Path) -> None:
    db, saved = tmp_path / "bot.db", tmp_path / "saved.db"
    _console(db, 'start "Before the backup"\n')
    assert sessionbot(db, "db", "backup", str(saved)).returncode == 0
    port = _free_port()
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=_env(db, SESSIONBOT_HTTP_PORT=str(port)),
    )
    try:
        status, _ = _wait_ready(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 30)
        assert status == 200
        _console(db, 'start "After the backup"\n')  # another process, same file: fine
        refused = sessionbot(db, "db", "restore", str(saved))
        assert refused.returncode == 1
        assert "in use by a running sessionbot" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200  # the bot did not notice
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=15) == 0
    assert _titles(db) == ['"Before the backup"', '"After the backup"']

    restored = sessionbot(db, "db", "restore", str(saved))
    assert restored.returncode == 0, restored.stderr
    assert _titles(db) == ['"Before the backup"']
    assert sessionbot(db, "db", "check").returncode == 0


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A good backup of a database holding one session."""
    db, file = tmp_path / "source.db", tmp_path / "saved.db"
    _console(db, 'start "Kept"\n')
    backup.backup(str(db), str(file))
    return file


@pytest.fixture
def target(tmp_path: Path) -> Path:
    db = tmp_path / "target.db"
    _console(db, 'start "Current"\n')
    return db


def test_restore_refuses_a_corrupt_file_and_keeps_the_database(
    saved: Path, target: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    data = bytearray(saved.read_bytes())
    page = 4096
    data[3 * page : 5 * page] = b"\xa5" * (2 * page)  # wreck two b-tree pages
    broken.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="fails its check"):
        backup.restore(str(broken), str(target))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match="fails its check"):
        backup.restore(str(garbage), str(target))
    assert _titles(target) == ['"Current"']


def test_restore_refuses_a_newer_schema_and_a_foreign_database(
    saved: Path, target: Path, tmp_path: Path
) -> None:
    newer = tmp_path / "newer.db"
    shutil.copy(saved, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    with pytest.raises(StoreError, match="newer than this sessionbot"):
        backup.restore(str(newer), str(target))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="not a sessionbot database"):
        backup.restore(str(other), str(target))
    assert _titles(target) == ['"Current"']


async def test_a_restore_in_progress_keeps_every_process_out(saved: Path, target: Path) -> None:
    lock = DatabaseLock(str(target))
    assert lock.try_exclusive()
    try:
        store = SqliteStore(f"sqlite:///{target}")
        with pytest.raises(StoreError, match="being restored"):
            await store.open()
    finally:
        lock.release()
    store = SqliteStore(f"sqlite:///{target}")
    await store.open()
    try:
        with pytest.raises(StoreError, match="in use"):
            backup.restore(str(saved), str(target))
    finally:
        await store.close()
    assert backup.restore(str(saved), str(target)).sessions == 1


def test_backup_refuses_to_overwrite_the_database_itself(target: Path) -> None:
    with pytest.raises(StoreError, match="must not be the database"):
        backup.backup(str(target), str(target))
    assert _titles(target) == ['"Current"']


def test_sessions_list_and_show_print_tables(tmp_path: Path) -> None:
    db = tmp_path / "tables.db"
    _console(
        db, 'start "Rotate the keys"\nplan "revoke old" "issue new"\n@bob start "Other work"\n'
    )
    listed = sessionbot(db, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    for text in ("console:local", "#1", "Rotate the keys", "pending", "#2", "Other work", "bob"):
        assert text in listed.stdout
    assert "2 shown of 2" in listed.stderr  # piped: the rows on stdout, the count beside
    open_only = sessionbot(db, "sessions", "list", "--status", "pending")
    assert "Rotate the keys" in open_only.stdout and "Other work" not in open_only.stdout
    elsewhere = sessionbot(db, "sessions", "list", "--workspace", "slack:T1")
    assert elsewhere.returncode == 0 and "0 shown of 0" in elsewhere.stderr

    shown = sessionbot(db, "sessions", "show", "#1")
    assert shown.returncode == 0, shown.stderr
    for text in ("Rotate the keys", "owner", "you", "Plan v1 (pending)", "revoke old"):
        assert text in shown.stdout
    assert "plan_submitted" in shown.stdout and "created" in shown.stdout
    missing = sessionbot(db, "sessions", "show", "42")
    assert missing.returncode == 1 and "#42" in missing.stderr and "Traceback" not in missing.stderr
