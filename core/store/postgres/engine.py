"""PostgreSQL connections: an asyncpg pool, one pooled transaction per unit of work.

SQLite needs a group-committing writer because it has one writer; PostgreSQL runs many
transactions at once and already shares WAL flushes between concurrent commits, so every
unit simply takes a pooled connection, runs in its own READ COMMITTED transaction and
commits. A unit that loses a deadlock or a serialization race is replayed (units are pure
functions of the database state); a lost compare-and-set is the unit's own `Conflict`.

Pool size: `?pool_max=N` (alias `pool_size`) and `?pool_min=N` in the URL, default 10 / 1;
those keys are taken out before the URL reaches asyncpg.

Wake-ups across replicas: a unit's wake-up keys (core/store/wakes.py) are sent with NOTIFY
inside its transaction, so PostgreSQL delivers them exactly when it commits, to every
process LISTENing on `CHANNEL` on its own connection (`Listener`); each payload is
`<origin> <key>`, and a process ignores its own (it woke its waiters at commit already).

Round trips: a unit costs BEGIN, its statements (each one trip: asyncpg keeps every
statement prepared per connection) and COMMIT, which carries the unit's NOTIFYs in the same
simple-protocol message (`_commit_sql`). A connection goes back to the pool without asyncpg's
reset query (one more trip per use): units and reads leave no session state behind, and an
open transaction is still rolled back by the pool; `run_raw`, which may, resets its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from core.errors import SessionBotError, StoreError, UsageError
from core.store import claims, db
from core.store.db import POSTGRES, T, numbered
from core.store.wakes import ANY

_log = logging.getLogger(__name__)

POOL_MAX = 10
POOL_MIN = 1
MAX_REPLAYS = 8
CLOSE_TIMEOUT = 5.0  # seconds close() waits for connections in use to be released
_REPLAYED = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
# character_not_in_repertoire (a NUL in text), untranslatable_character: bad input, not a fault
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
_ERRORS = (asyncpg.PostgresError, OSError, asyncio.TimeoutError, asyncpg.InterfaceError)
CHANNEL = "sessionbot_wake"
RELISTEN_EVERY = 1.0  # seconds between attempts to LISTEN again after the connection is lost
_NOTIFY = "SELECT pg_notify($1, $2 || ' ' || key) FROM unnest($3::text[]) AS key"
_LITERAL = re.compile(r"[A-Za-z0-9_.:*-]+")  # wake keys and the origin: ids, hex, prefixes


def pool_settings(url: str) -> tuple[str, int, int]:
    """(the URL asyncpg gets, pool minimum, pool maximum) of a database URL."""
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    low, high = POOL_MIN, POOL_MAX
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in ("pool_max", "pool_size", "pool_min"):
            kept.append((key, value))
        elif not value.isdigit() or int(value) < 1:
            raise ValueError(f"{key} must be a positive integer, not {value!r}")
        elif key == "pool_min":
            low = int(value)
        else:
            high = int(value)
    return urlunsplit(parts._replace(query=urlencode(kept))), min(low, high), high


def safe_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PgEngine(db.Engine, db.Database):
    """`db.Database` on PostgreSQL: one pooled transaction per unit (replayed on a deadlock),
    reads on the same pool; `run_raw` for what runs outside a transaction."""

    dialect = POSTGRES

    def __init__(
        self,
        url: str,
        *,
        on_commit: Callable[[], None] | None = None,
        on_wake: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        self.url = url
        self.dsn, self.pool_min, self.pool_max = pool_settings(url)
        self._pool: asyncpg.Pool | None = None
        self._on_commit = on_commit
        self._on_wake = on_wake
        self.origin = secrets.token_hex(6)  # this process, in the payloads it notifies
        self.listener: Listener | None = None
        self.close_timeout = CLOSE_TIMEOUT

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.pool_min,
                max_size=self.pool_max,
                command_timeout=60,
                server_settings={"application_name": "sessionbot", "TimeZone": "UTC"},
                reset=_keep_session,
            )
        except _ERRORS as exc:
            raise StoreError(
                f"Could not connect to PostgreSQL at {safe_url(self.url)}: {exc.__class__.__name__}"
            ) from exc
        if self._on_wake is not None:
            self.listener = Listener(self.dsn, self.origin, self._on_wake)
            await self.listener.start()

    async def close(self) -> None:
        """Close the pool; connections still in use after `close_timeout` are terminated."""
        if self.listener is not None:
            listener, self.listener = self.listener, None
            await listener.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=self.close_timeout)
            except TimeoutError:
                _log.warning("database connections still in use at close: terminated")
                pool.terminate()

    def _require(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("The database is closed.")
        return self._pool

    async def transact(self, unit: db.Unit[T], *, notify: bool = True) -> T:
        with self.timed("write"):
            pool = self._require()
            for attempt in range(MAX_REPLAYS + 1):
                wakes: set[str] = set()
                try:
                    async with pool.acquire() as conn:
                        result = await self._in_transaction(conn, unit, wakes)
                    break
                except _ERRORS as exc:
                    if getattr(exc, "sqlstate", None) not in _REPLAYED or attempt == MAX_REPLAYS:
                        raise translate(exc, "write") from exc
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # then replay
        if notify and self._on_commit is not None:
            self._on_commit()
        if wakes and self._on_wake is not None:
            self._on_wake(frozenset(wakes))
        return result

    async def write_row(
        self, sql: str, params: Sequence[Any] = (), *, notify: bool = True
    ) -> asyncpg.Record | None:
        """One statement as its own implicit transaction: one round trip, no BEGIN or COMMIT
        (a claim to carry still goes in a unit, `db.Database.write`)."""
        if claims.pending() is not None:
            return await super().write_row(sql, params, notify=notify)
        with self.timed("write"):
            try:
                row = await self._require().fetchrow(numbered(sql), *params)
            except _ERRORS as exc:
                raise translate(exc, "write") from exc
        if notify and self._on_commit is not None:
            self._on_commit()
        return cast("asyncpg.Record | None", row)

    async def _in_transaction(
        self, conn: asyncpg.Connection, unit: db.Unit[T], wakes: set[str]
    ) -> T:
        """`unit` in one transaction on `conn`: BEGIN, its statements, then its NOTIFYs (sent
        by PostgreSQL when, and only if, this commits) and COMMIT in one message."""
        await conn.execute("BEGIN")
        try:
            result = await unit(PgTx(conn, wakes))
            commit = _commit_sql(self.origin, wakes)
            if commit is None:  # a key not fit for a literal: notified by parameters
                await conn.execute(_NOTIFY, CHANNEL, self.origin, sorted(wakes))
                commit = "COMMIT"
            await conn.execute(commit)
        except BaseException:
            if not conn.is_closed() and conn.is_in_transaction():
                with contextlib.suppress(*_ERRORS):
                    await conn.execute("ROLLBACK")
            raise
        return result

    async def run_raw(self, unit: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `unit` on a pooled connection outside any transaction (DDL scripts, checks);
        the connection is reset before it goes back to the pool (asyncpg's reset query)."""
        with self.timed("raw"):
            try:
                async with self._require().acquire() as conn:
                    try:
                        return await unit(conn)
                    finally:
                        await conn.execute(conn.get_reset_query())
            except _ERRORS as exc:
                raise translate(exc, "command") from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        with self.timed("read"):
            try:
                return list(await self._require().fetch(numbered(sql), *params))
            except _ERRORS as exc:
                raise translate(exc, "read") from exc


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection: nothing (see the module docstring)."""


def _commit_sql(origin: str, wakes: set[str]) -> str | None:
    """COMMIT preceded by the NOTIFY of each of `wakes`, as one simple-protocol message; None
    when a key holds a character outside `_LITERAL` (never quoted here: sent as a parameter)."""
    if not wakes:
        return "COMMIT"
    if not all(_LITERAL.fullmatch(key) for key in (origin, *wakes)):
        return None
    notifies = "".join(f"SELECT pg_notify('{CHANNEL}', '{origin} {key}');" for key in sorted(wakes))
    return notifies + "COMMIT"


class Listener:
    """One connection of its own LISTENing on `CHANNEL`: the keys other replicas committed
    reach `on_wake`. A lost connection is opened again every `RELISTEN_EVERY` seconds, and
    then `ANY` is told, since keys committed meanwhile were not heard."""

    def __init__(self, dsn: str, origin: str, on_wake: Callable[[frozenset[str]], None]) -> None:
        self.dsn = dsn
        self.origin = origin
        self.on_wake = on_wake
        self.heard = 0  # keys received from other processes
        self._conn: asyncpg.Connection | None = None
        self._again: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        self._conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "sessionbot-listen"}
        )
        self._conn.add_termination_listener(self._lost)
        await self._conn.add_listener(CHANNEL, self._heard)

    async def stop(self) -> None:
        self._stopped = True
        if self._again is not None:
            self._again.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._again
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(*_ERRORS):
                await conn.close(timeout=CLOSE_TIMEOUT)

    def connection_pid(self) -> int | None:
        """The server process of the LISTEN connection (None while it is being opened again)."""
        return None if self._conn is None or self._conn.is_closed() else self._conn.get_server_pid()

    def _heard(self, conn: object, pid: int, channel: str, payload: str) -> None:
        origin, _, key = payload.partition(" ")
        if origin != self.origin and key:
            self.heard += 1
            self.on_wake(frozenset({key}))

    def _lost(self, conn: object) -> None:
        if not self._stopped and (self._again is None or self._again.done()):
            _log.warning("the LISTEN connection was lost; listening again")
            self._again = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        while not self._stopped:
            await asyncio.sleep(RELISTEN_EVERY)
            try:
                await self.start()
            except _ERRORS as exc:
                _log.warning("LISTEN again failed: %s", exc.__class__.__name__)
                continue
            self.on_wake(frozenset({ANY}))
            return


def translate(exc: BaseException, what: str) -> BaseException:
    """A database failure as a StoreError (core's own errors pass through unchanged)."""
    if isinstance(exc, SessionBotError):
        return exc
    state = getattr(exc, "sqlstate", None)
    if state in _UNSTORABLE_TEXT:
        return UsageError("That text holds a character the database can't store (NUL).")
    _log.error("database %s failed: %s (%s)", what, exc.__class__.__name__, state)
    detail = f"{exc.__class__.__name__}" + (f", SQLSTATE {state}" if state else "")
    error = StoreError(f"Database {what} failed: {detail}")
    error.__cause__ = exc
    return error


class PgTx(db.ConnTx[asyncpg.Connection]):
    """`db.Tx` on an asyncpg connection inside the unit's transaction."""

    __slots__ = ()
    dialect = POSTGRES

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status = await self.conn.execute(numbered(sql), *params)  # `UPDATE 3`, `INSERT 0 1`, …
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(numbered(sql), rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> asyncpg.Record | None:
        return cast("asyncpg.Record | None", await self.conn.fetchrow(numbered(sql), *params))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        return list(await self.conn.fetch(numbered(sql), *params))
