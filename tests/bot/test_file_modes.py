"""Every file sessionbot writes is 0600 and every folder it creates 0700, whatever the umask."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.logs import setup_logging
from core.clock import ManualClock
from core.files import write_private
from core.jobs import cleanup
from core.models import ChatRef
from core.store.sqlite import backup
from core.store.sqlite.store import SqliteStore
from core.wiring import Services, build_services
from tests.conftest import actor

ROOT = Path(__file__).resolve().parents[2]
OWNER = actor("owner", "console:local")
CHAT = ChatRef("console", "console:local", "general")


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A permissive umask for the test (children started by it inherit it)."""
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(*files: Path, folders: tuple[Path, ...] = ()) -> None:
    for file in files:
        assert file.is_file(), file
        assert mode(file) == 0o600, f"{file.name} is {oct(mode(file))}"
    for folder in folders:
        assert mode(folder) == 0o700, f"{folder.name}/ is {oct(mode(folder))}"


async def _archived_session(services: Services, title: str) -> None:
    session = await services.sessions.start(OWNER, CHAT, title)
    await services.sessions.cancel(OWNER, str(session.ref), reason="done")
    await services.sessions.archive(OWNER, str(session.ref))


async def test_database_wal_shm_and_lock_files_are_private(tmp_path: Path, umask: int) -> None:
    db = tmp_path / "data" / "nested" / "sessions.db"
    store = SqliteStore(f"sqlite:///{db}")
    await store.open()
    try:
        await build_services(store).sessions.start(OWNER, CHAT, "writes to the WAL")
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        lock, migrate_lock = Path(f"{db}.lock"), Path(f"{db}.migrate.lock")
        assert_private(db, wal, shm, lock, migrate_lock, folders=(db.parent, db.parent.parent))
    finally:
        await store.close()


async def test_backup_and_cleanup_archive_are_private(tmp_path: Path, umask: int) -> None:
    clock = ManualClock()
    store = SqliteStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    await store.open()
    try:
        services = build_services(store, clock=clock)
        await _archived_session(services, "old")
        target = tmp_path / "backups" / "daily" / "sessions.db"
        await backup.backup_database(store.path, str(target))
        assert_private(target, folders=(target.parent, target.parent.parent))
        assert sorted(p.name for p in target.parent.iterdir()) == ["sessions.db"]

        clock.advance(timedelta(days=400))
        archive = tmp_path / "archive"
        report = await cleanup.run(services, clock.now(), archive_dir=archive)
        assert report is not None and report.deleted == 1
        (workspace_folder,) = archive.iterdir()
        (file,) = workspace_folder.iterdir()
        assert file.name.endswith(".json.gz")
        assert_private(file, folders=(archive, workspace_folder))
    finally:
        await store.close()


async def test_export_output_is_private(tmp_path: Path, umask: int) -> None:
    db = tmp_path / "sessions.db"
    store = SqliteStore(f"sqlite:///{db}")
    await store.open()
    try:
        await build_services(store).sessions.start(OWNER, CHAT, "to export")
    finally:
        await store.close()
    output = tmp_path / "exports" / "one.json"
    env = {**os.environ, "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "export", "1", "--output", str(output)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"to export"' in output.read_text(encoding="utf-8")
    assert_private(output, folders=(output.parent,))
    assert [p.name for p in output.parent.iterdir()] == ["one.json"], "no temporary file left"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, umask: int
) -> None:
    target = tmp_path / "report.txt"
    with write_private(target) as temp:
        temp.write_text("first")
    with pytest.raises(RuntimeError), write_private(target) as temp:
        temp.write_text("half of the sec")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
    assert_private(target)


def test_an_existing_folder_keeps_its_mode(tmp_path: Path, umask: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with write_private(shared / "new" / "file.txt") as temp:
        temp.write_text("x")
    assert mode(shared) == 0o755, "a folder the bot did not create is left as it is"
    assert_private(shared / "new" / "file.txt", folders=(shared / "new",))


def test_log_file_is_private(tmp_path: Path, umask: int) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    file = tmp_path / "logs" / "deep" / "sessionbot.log"
    try:
        handler = setup_logging("INFO", file=file)
        logging.getLogger("bot.test").info("written to the file")
        handler.close()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "written to the file" in file.read_text(encoding="utf-8")
    assert_private(file, folders=(file.parent, file.parent.parent))
