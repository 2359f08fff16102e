"""SQLite connections: one group-committing writer thread and one reader thread.

The writer owns one sqlite3 connection on its own thread. Concurrent units of work queue up; the
thread takes everything queued, opens one transaction, runs each unit (a unit that fails after
writing is rolled back alone by replaying the batch without it), commits once and then resolves
every caller. A call returns only after the commit that holds its writes, so every acknowledged
write is durable, while many callers share one fsync. Reads run on a second, read-only
connection on a thread of its own (WAL lets it read while the writer writes), taken the same
way: the reads queued meanwhile run back to back and their callers are resumed together, with
one wake-up of the event loop per batch instead of one per read (each hand-off between the
threads costs the loop more CPU than a short indexed read). An in-memory database has a single
connection, so its reads queue on the writer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core import files
from core.errors import SessionBotError, StoreError
from core.store import db
from core.store.codec import ts
from core.store.db import SQLITE, T
from core.store.sqlite.lock import DatabaseLock

_log = logging.getLogger(__name__)
Unit = Callable[[sqlite3.Connection], T]

MAX_BATCH = 256
BUSY_TIMEOUT_MS = 10_000


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A tuned sqlite3 connection in autocommit mode (transactions are explicit); a
    `read_only` one refuses every write (`query_only`)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, uri=True)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
        return conn
    conn.execute("PRAGMA foreign_keys = ON")
    if not _is_memory(path):
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def _is_memory(path: str) -> bool:
    return path == ":memory:" or "mode=memory" in path


def create_private_file(path: str) -> None:
    """Create the database file 0600 (and its missing folders 0700); `:memory:` has none."""
    if not _is_memory(path):
        files.create_private_file(Path(path))


@dataclass(slots=True)
class _Job:
    unit: Unit[Any]
    future: asyncio.Future[Any]
    write: bool
    notify: bool  # a write whose commit wakes the commit listener
    wakes: set[str] | None = None  # the wake-up keys its unit named (core/store/wakes.py)
    result: Any = None
    error: BaseException | None = None


def _started(
    name: str,
    run: Callable[[sqlite3.Connection, queue.SimpleQueue[_Job | None]], None],
    conn: sqlite3.Connection,
    jobs: queue.SimpleQueue[_Job | None],
) -> threading.Thread:
    thread = threading.Thread(target=run, args=(conn, jobs), name=name, daemon=True)
    thread.start()
    return thread


def _resolve(jobs: list[_Job], loop: asyncio.AbstractEventLoop) -> None:
    """Settle the futures of `jobs` that belong to `loop` (this function runs on it)."""
    for job in jobs:
        if job.future.get_loop() is not loop or job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


class SqliteEngine(db.Engine):
    """Runs units of work on the writer thread and reads on aiosqlite."""

    def __init__(
        self,
        path: str,
        *,
        on_commit: Callable[[], None] | None = None,
        on_wake: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        self.path = path
        self.memory = _is_memory(path)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reads: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._on_commit = on_commit
        self._on_wake = on_wake
        self._lock = DatabaseLock(path)  # shared while open: `db restore` waits for no user
        self.batches = 0
        self.units = 0
        self._closing = False

    async def open(self) -> None:
        create_private_file(self.path)
        if not self.memory:
            self._lock.share()
        self._thread = _started("sessionbot-writer", self._run, connect(self.path), self._queue)
        self._closing = False
        if not self.memory:
            reader = await asyncio.to_thread(connect, self.path, read_only=True)
            self._reader = _started("sessionbot-reader", self._run, reader, self._reads)

    async def close(self) -> None:
        self._closing = True  # from here on a new call is refused instead of queued behind stop
        for jobs, thread in ((self._reads, self._reader), (self._queue, self._thread)):
            if thread is not None:
                jobs.put(None)
                await asyncio.to_thread(thread.join)
        self._reader = self._thread = None
        self._lock.release()

    async def write(
        self, unit: Unit[T], *, notify: bool = True, wakes: set[str] | None = None
    ) -> T:
        """Run `unit` inside the next group commit; return once it is durable (`notify` as
        in `db.Database.write`; `wakes`, filled by the unit, go to `on_wake` at commit)."""
        return await self._submit(unit, write=True, notify=notify, wakes=wakes)

    async def run_raw(self, unit: Unit[T]) -> T:
        """Run `unit` on the writer thread outside any transaction (pragmas, scripts)."""
        return await self._submit(unit, write=False)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"Database read failed: {exc.__class__.__name__}") from exc

        if self._reader is None:
            return await self.run_raw(read)
        return await self._submit(read, write=False, reading=True)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def _submit(
        self,
        unit: Unit[T],
        *,
        write: bool,
        notify: bool = True,
        wakes: set[str] | None = None,
        reading: bool = False,
    ) -> T:
        """Queue `unit` for the writer thread (or, `reading`, the reader's) and await it."""
        if self._thread is None or self._closing:
            raise StoreError("The database is closed.")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = _Job(unit, future, write, write and notify, wakes)
        with self.timed("read" if reading else "write" if write else "raw"):
            (self._reads if reading else self._queue).put(job)
            return await future

    def _run(self, conn: sqlite3.Connection, jobs: queue.SimpleQueue[_Job | None]) -> None:
        stop = False
        while not stop:  # take what is queued, up to MAX_BATCH; None stops the thread
            batch = [jobs.get()]
            while batch[-1] is not None and len(batch) < MAX_BATCH and not jobs.empty():
                batch.append(jobs.get())  # this thread alone takes from the queue
            stop = batch[-1] is None
            self._run_batch(conn, [job for job in batch if job is not None])
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        writes = [job for job in batch if job.write]
        for job in batch:
            if not job.write:
                try:
                    job.result = job.unit(conn)
                except BaseException as exc:
                    job.error = _translate(exc)
        if writes:
            self._commit_group(conn, writes)
        if self._on_commit is not None and any(job.notify for job in writes):
            self._on_commit()  # before the callers resume: they see their commit's effects
        committed = [job.wakes for job in writes if job.wakes and job.error is None]
        if self._on_wake is not None and committed:
            self._on_wake(frozenset().union(*committed))
        for loop in {job.future.get_loop() for job in batch}:
            with contextlib.suppress(RuntimeError):  # that loop is already closed
                loop.call_soon_threadsafe(_resolve, batch, loop)

    def _commit_group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        """Run every unit in one transaction and commit once.

        A unit that fails before writing anything (a refused check, a lost compare-and-set)
        simply reports its error. One that fails after writing forces a rollback, and the
        batch is replayed without it: units are pure functions of the database state, so the
        replay gives the others exactly what they would have had alone.
        """
        live = list(jobs)
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                dirty = self._run_units(conn, live)
                if dirty is None:
                    conn.execute("COMMIT")
                    self.batches += 1
                    self.units += len(live)
                    return
            except sqlite3.Error as exc:  # BEGIN or COMMIT: every unit of the batch failed
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                for job in live:
                    job.error = _translate(exc)
                return
            conn.execute("ROLLBACK")
            live.remove(dirty)
            for job in live:
                job.error = None

    def _run_units(self, conn: sqlite3.Connection, jobs: list[_Job]) -> _Job | None:
        """Run the units in order; return the first one that failed after writing, if any."""
        for job in jobs:
            before = conn.total_changes
            try:
                job.result = job.unit(conn)
            except BaseException as exc:
                job.error = _translate(exc)
                if conn.total_changes != before:
                    return job
        return None


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, SessionBotError) or not isinstance(exc, sqlite3.Error):
        return exc
    _log.error("database write failed: %s", exc)
    error = StoreError(f"Database write failed: {exc.__class__.__name__}")
    error.__cause__ = exc
    return error


# Datetimes are bound as fixed-width UTC ISO text (`codec.ts`: text order is time order; a
# naive datetime is refused). An adapter runs in sqlite3's C binding loop, for datetimes only,
# so binding costs nothing for every other parameter.
sqlite3.register_adapter(datetime, ts)


class SqliteTx(db.ConnTx[sqlite3.Connection]):
    """`db.Tx` on the writer's connection: coroutines that never suspend (see core/store/db.py)."""

    __slots__ = ()
    dialect = SQLITE

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> db.Row | None:
        return self.conn.execute(sql, params).fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[db.Row]:
        return self.conn.execute(sql, params).fetchall()


class SqliteDatabase(db.Database):
    """`db.Database` on SQLite: units run inside the writer thread's group commit."""

    dialect = SQLITE

    def __init__(self, engine: SqliteEngine) -> None:
        self.engine = engine

    async def transact(self, unit: db.Unit[T], *, notify: bool = True) -> T:
        wakes: set[str] = set()  # filled by the unit (and its replays), told at commit
        return await self.engine.write(
            lambda conn: db.run_sync(unit(SqliteTx(conn, wakes))), notify=notify, wakes=wakes
        )

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self.engine.fetchall(sql, params)

    async def outside_commits(self) -> int:
        """Another connection's commits change it; the writer's own (announced) do not."""
        return int(
            await self.engine.run_raw(
                lambda conn: conn.execute("PRAGMA data_version").fetchone()[0]
            )
        )
