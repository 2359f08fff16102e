"""Online backup, verification and restore of a SQLite database file (`sessionbot db …`).

A backup uses SQLite's backup API from a separate connection, copying every page in one step
inside one read transaction: in WAL mode that is a consistent snapshot holding every commit made
before it began, while the bot goes on writing. The copy is written beside the target, switched
to a self-contained rollback journal, checked (integrity, foreign keys, schema version) and only
then renamed into place. A restore checks the file the same way, refuses one newer than this
code, takes the database's exclusive lock (so it is refused while a bot or any other sessionbot
process has the file open) and copies the pages in with the backup API, which writes them in one
transaction of the target: a crash mid-restore leaves the old database intact.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from core.errors import StoreError
from core.files import write_private
from core.store import migrations
from core.store.sqlite.engine import BUSY_TIMEOUT_MS, connect, create_private_file
from core.store.sqlite.lock import DatabaseLock


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    """What a check of one database file found."""

    path: str
    schema_version: int
    sessions: int
    size: int
    problems: tuple[str, ...] = ()


def latest_schema() -> int:
    return len(migrations.load("sqlite"))


def _open(path: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection to an existing file (never creates one)."""
    if not Path(path).is_file():
        raise StoreError(f"No database file at {path}.")
    mode = "ro" if read_only else "rw"
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode={mode}", uri=True, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise StoreError(f"Can't open {path}: {exc}") from exc
    return conn


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """Problems found by integrity_check and foreign_key_check (empty when healthy)."""
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
    return problems + [
        f"foreign key: {r[0]} row {r[1]} -> {r[2]}"
        for r in conn.execute("PRAGMA foreign_key_check")
    ]


def _facts(conn: sqlite3.Connection, path: str) -> DatabaseFacts:
    """Integrity, foreign keys and the schema version of an open database."""
    version = sessions = 0
    try:
        problems = integrity_problems(conn)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_migrations" not in tables or "sessions" not in tables:
            problems.append("not a sessionbot database")
        else:
            version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
            sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        version, sessions, problems = 0, 0, [f"unreadable: {exc}"]
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return DatabaseFacts(path, int(version or 0), int(sessions), size, tuple(problems))


def inspect(path: str) -> DatabaseFacts:
    """Check a database file without changing it."""
    with closing(_open(path, read_only=True)) as conn:
        return _facts(conn, path)


def backup(source: str, target: str) -> DatabaseFacts:
    """Copy the live database `source` to `target` (consistent, online) and check the copy."""
    final = Path(target)
    if final.resolve() == Path(source).resolve():
        raise StoreError("The backup file must not be the database itself.")
    try:
        with write_private(final) as partial:
            with closing(_open(source, read_only=False)) as src:
                src.execute("PRAGMA query_only = ON")
                with closing(sqlite3.connect(str(partial), isolation_level=None)) as dst:
                    src.backup(dst)  # pages=-1: one step, one read transaction, one snapshot
                    dst.execute("PRAGMA journal_mode = DELETE")
            facts = inspect(str(partial))
            if facts.problems:  # raising drops the copy and leaves `target` as it was
                raise StoreError(f"The backup failed its check: {'; '.join(facts.problems[:5])}")
    except sqlite3.Error as exc:
        raise StoreError(f"Backup failed: {exc}") from exc
    return DatabaseFacts(str(final), facts.schema_version, facts.sessions, facts.size)


def restore(source: str, target: str) -> DatabaseFacts:
    """Replace the database `target` with the backup `source`, if it is sound and not in use."""
    facts = inspect(source)
    if facts.problems:
        raise StoreError(f"{source} fails its check: {'; '.join(facts.problems[:5])}")
    if facts.schema_version > latest_schema():
        raise StoreError(
            f"{source} is at schema version {facts.schema_version}, newer than this sessionbot "
            f"(which knows up to {latest_schema()}). Upgrade sessionbot first."
        )
    lock = DatabaseLock(target)
    if not lock.try_exclusive():
        raise StoreError(
            f"The database {target} is in use by a running sessionbot (or another sessionbot "
            "command); stop it before restoring."
        )
    try:
        create_private_file(target)
        with closing(_open(source, read_only=True)) as src, closing(connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            after = _facts(dst, target)
    except sqlite3.Error as exc:
        raise StoreError(f"Restore failed: {exc}") from exc
    finally:
        lock.release()
    if after.problems:
        raise StoreError(f"The restored database fails its check: {'; '.join(after.problems[:5])}")
    return after


async def backup_database(source: str, target: str) -> DatabaseFacts:
    return await asyncio.to_thread(backup, source, target)


async def restore_database(source: str, target: str) -> DatabaseFacts:
    return await asyncio.to_thread(restore, source, target)
