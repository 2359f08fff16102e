"""SqliteStore: the Store contract on one SQLite file (or `:memory:`)."""

from __future__ import annotations

import contextlib
import sqlite3

from core.store.migrations import Migration
from core.store.sqlite.backup import integrity_problems
from core.store.sqlite.engine import SqliteDatabase, SqliteEngine
from core.store.sqlite.lock import migrating
from core.store.store import Store


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db` → `rel.db`, `sqlite:////abs.db` → `/abs.db`, `:memory:` kept."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    path = url[len("sqlite:///") :]
    if path == ":memory:":
        return "file:sessionbot-memory?mode=memory&cache=private"
    return path


class SqliteStore(Store):
    """Sessions, plans, events and the outbox in SQLite, written by one group-committing writer."""

    backend = "sqlite"
    engine: SqliteEngine

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self.engine = SqliteEngine(self.path, on_commit=self._committed, on_wake=self._woke)
        super().__init__(SqliteDatabase(self.engine))

    async def _schema_version(self) -> int:
        def read(conn: sqlite3.Connection) -> int:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

        return await self.engine.run_raw(read)

    async def _apply_missing(self, known: list[Migration]) -> list[Migration]:
        """Check-and-apply runs under the file's migration lock (lock.py): a second process
        opening the same new file waits, then finds the migrations applied."""

        def run(conn: sqlite3.Connection) -> list[Migration]:
            with contextlib.nullcontext() if self.engine.memory else migrating(self.path):
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                missing = [m for m in known if m.version not in done]
                for m in missing:
                    try:
                        conn.executescript(
                            f"BEGIN IMMEDIATE;\n{m.sql}\n"
                            f"INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}',"
                            " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));\nCOMMIT;"
                        )
                    except sqlite3.Error:
                        if conn.in_transaction:  # never leave the write lock held after a failure
                            conn.execute("ROLLBACK")
                        raise
                return missing

        return await self.engine.run_raw(run)

    async def checkpoint(self) -> None:
        """Fold the WAL back into the database file and refresh the planner's statistics."""

        def run(conn: sqlite3.Connection) -> None:
            if not self.engine.memory:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.execute("PRAGMA optimize").fetchall()

        await self.engine.run_raw(run)

    async def integrity_problems(self) -> list[str]:  # integrity_check, foreign_key_check
        return await self.engine.run_raw(integrity_problems)
