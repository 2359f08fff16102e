"""Every query written once: the transaction interface and the dialect both backends share.

Statements are written once, with `?` placeholders, in one module per concern (sessions.py,
plans.py, history.py, …). A write is a *unit*: `async def unit(tx: Tx) -> T`, reading and
writing through the narrow `Tx` interface (execute / executemany / fetch one / fetch all). Each
backend drives the same coroutine its own way:

- **SQLite** runs units on its group-committing writer thread (sqlite/engine.py). Its `Tx`
  methods are coroutines that never suspend — they call sqlite3 directly — so the writer drives
  a unit to completion with one `coro.send(None)` (`run_sync`), inside the batch's transaction,
  with no event loop on that thread. A unit that awaited anything else (a network call, a
  sleep) would suspend; `run_sync` refuses it loudly instead of blocking the writer.
- **PostgreSQL** awaits the unit on the event loop with a `Tx` over an asyncpg connection in
  its own transaction (postgres/engine.py); `?` becomes `$1…` once per distinct statement.

Parameters are plain Python values: datetimes are bound as fixed-width UTC ISO text on SQLite
(`codec.ts`, so text order is time order) and as `timestamptz` on PostgreSQL; booleans as 0/1
and `boolean`; JSON documents as their text (`codec.dumps`). Rows come back indexable by
position and by name on both; `decode.when` reads a timestamp from either.

What truly differs between the engines — functions, locking clauses, full-text search, the
insertion-order column — is a field of `Dialect`, never a second copy of a statement.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, Protocol, TypeVar

from core.store import claims

_UNTIMED = nullcontext()  # reusable: entering it does nothing

T = TypeVar("T")
C = TypeVar("C")  # a backend's connection
Row = Any  # sqlite3.Row or asyncpg.Record: by position and by name
# Told of every database operation: (kind, seconds), kind being `write` (a unit of work until
# its commit is durable), `read` or `raw` (pragmas, scripts). Called on the event loop.
OperationObserver = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class Dialect:
    """The few pieces of SQL text that differ between SQLite and PostgreSQL."""

    name: str  # "sqlite" | "postgres"
    greatest: str  # the two-argument maximum: MAX(a, b) | GREATEST(a, b)
    skip_locked: str  # appended to a claim's SELECT: rows another replica leases are skipped
    insertion_order: str  # a column ordering rows by insertion: rowid | row_no
    #: SQLite has one writer and no row locks; PostgreSQL takes per-session seqs under a lock.
    row_locks: bool
    #: a stored timestamp as the text SQLite keeps (`codec.ts`), for keys built in SQL
    time_text: str  # {} | iso_utc({})
    #: after a table in FROM: the index SQLite's planner must use (PostgreSQL picks its own)
    index_hint: str  # " INDEXED BY {}" | ""
    #: the rows of a subquery's select list as one JSON array of arrays ('[]' when none)
    json_rows: str  # json_group_array(json_array({})) | json_agg(json_build_array({}))
    #: seconds from timestamp {0} to timestamp {1}, as a float (SQLite's to the millisecond)
    seconds: str
    #: timestamps are bound as `codec.ts` text (SQLite) rather than as datetimes (PostgreSQL)
    text_times: bool
    #: a timestamp's UTC day as `YYYY-MM-DD` text
    day: str

    def lock_rows(self, of: str) -> str:
        """Appended to a SELECT whose rows of `of` (a table or alias) are held until commit."""
        return f" FOR NO KEY UPDATE OF {of}" if self.row_locks else ""

    def as_text(self, column: str) -> str:
        """`column` (a timestamp) as the same text on both backends."""
        return self.time_text.format(column)

    def indexed_by(self, index: str) -> str:
        return self.index_hint.format(index)

    def rows_of(self, columns: str, source: str) -> str:
        """A subquery: the `columns` of the rows `source` (FROM …) finds, as one JSON array of
        arrays, in no particular order. A timestamp in it is ISO text on both backends; a
        JSON column must be selected as text (`CAST(c AS text)`) to come back as its text."""
        return f"(SELECT {self.json_rows.format(columns)} {source})"

    def seconds_between(self, start: str, end: str) -> str:
        return self.seconds.format(start, end)


# Fields in order: name, greatest, skip_locked, insertion_order, row_locks, time_text,
# index_hint, json_rows, seconds, text_times, day
SQLITE = Dialect(
    "sqlite",
    "MAX",
    "",
    "rowid",
    False,
    "{}",
    " INDEXED BY {}",
    "json_group_array(json_array({}))",
    "ROUND((julianday({1}) - julianday({0})) * 86400.0, 3)",
    True,
    "substr({}, 1, 10)",  # stored as UTC ISO text
)
POSTGRES = Dialect(
    "postgres",
    "GREATEST",
    " FOR UPDATE SKIP LOCKED",
    "row_no",
    True,
    "iso_utc({})",
    "",
    "COALESCE(json_agg(json_build_array({})), '[]')",
    "EXTRACT(EPOCH FROM ({1} - {0}))::float8",
    False,
    "(({}) AT TIME ZONE 'UTC')::date::text",
)


class Tx(Protocol):
    """One transaction, as a unit of work sees it."""

    dialect: Dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...  # rows touched
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def wake(self, key: str) -> None:
        """Wake the waiters on `key` (core/store/wakes.py) once this transaction commits."""
        ...


Unit = Callable[[Tx], Coroutine[Any, Any, T]]


@dataclass(slots=True)
class ConnTx(Generic[C]):
    """Base of each backend's `Tx`: the connection its transaction runs on, and the wake-up
    keys its unit named (`wakes`, shared by the replays of one unit)."""

    conn: C
    wakes: set[str] = field(default_factory=set)

    def wake(self, key: str) -> None:
        self.wakes.add(key)


class Engine:
    """A backend's connections, opened and closed with its store; `observe` (a metrics hook,
    called on the loop) is told of every operation."""

    observe: OperationObserver | None = None

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    def timed(self, kind: str) -> AbstractContextManager[None]:
        """Time what runs inside for the observer; nothing at all while none observes."""
        return _UNTIMED if self.observe is None else self._timing(kind)

    @contextmanager
    def _timing(self, kind: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            if self.observe is not None:
                self.observe(kind, time.perf_counter() - started)


class Database:
    """What repositories hold: reads outside a transaction and atomic units of work.

    A backend implements `write` and `fetchall`; one statement and one row are built on them.
    """

    dialect: Dialect

    async def write(self, unit: Unit[T], *, notify: bool = True) -> T:
        """Run `unit` in a transaction; return once it has committed.

        `notify=False` for bookkeeping that adds nothing to deliver (outbox leases and
        results): commit listeners wake the outbox, and a lease that woke it would keep it
        leasing forever. Inside a command that came with a delivery key, the first unit also
        claims the key (core/store/claims.py).
        """
        claim = claims.pending()
        if claim is None:
            return await self.transact(unit, notify=notify)
        return await claims.carry(
            claim, unit, lambda carried: self.transact(carried, notify=notify)
        )

    async def transact(self, unit: Unit[T], *, notify: bool = True) -> T:
        """The backend's `write`: `unit` in one transaction, returning once committed."""
        raise NotImplementedError

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def outside_commits(self) -> int:
        """A number that changes when a commit this process is not told of has landed: on
        SQLite, another process's on the same file (`PRAGMA data_version` of the writer's
        connection). PostgreSQL's every commit is announced (NOTIFY, heard by LISTEN): 0."""
        return 0

    async def execute(self, sql: str, params: Sequence[Any] = (), *, notify: bool = True) -> int:
        """One statement in its own transaction; the rows it touched."""
        return await self.write(lambda tx: tx.execute(sql, params), notify=notify)

    async def write_row(
        self, sql: str, params: Sequence[Any] = (), *, notify: bool = True
    ) -> Row | None:
        """One statement in its own transaction; its first row (what RETURNING gives)."""
        return await self.write(lambda tx: tx.fetchone(sql, params), notify=notify)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Drive a unit over a never-suspending `Tx` to its end, synchronously (SQLite's writer)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a store unit awaited something other than its transaction")


@lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (statements hold no literal `?`)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def marks(count: int) -> str:
    """`?, ?, ?` for an IN list or a VALUES row of `count` values."""
    return ", ".join("?" * count)
