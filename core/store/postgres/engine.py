"""PostgreSQL connections: an asyncpg pool, one pooled transaction per unit of work.

SQLite needs a group-committing writer because it has one writer; PostgreSQL runs many
transactions at once and already shares WAL flushes between concurrent commits, so every
unit simply takes a pooled connection, runs in its own READ COMMITTED transaction and
commits. A unit that loses a deadlock or a serialization race is replayed (units are pure
functions of the database state); a lost compare-and-set is the unit's own `Conflict`.

Pool size: `?pool_max=N` (alias `pool_size`) and `?pool_min=N` in the URL, default 10 / 1;
those keys are taken out before the URL reaches asyncpg.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from core.errors import SessionBotError, StoreError, UsageError
from core.store import db
from core.store.db import POSTGRES, T, numbered

_log = logging.getLogger(__name__)

POOL_MAX = 10
POOL_MIN = 1
MAX_REPLAYS = 8
CLOSE_TIMEOUT = 5.0  # seconds close() waits for connections in use to be released
_REPLAYED = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
# character_not_in_repertoire (a NUL in text), untranslatable_character: bad input, not a fault
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
_ERRORS = (asyncpg.PostgresError, OSError, asyncio.TimeoutError, asyncpg.InterfaceError)


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

    def __init__(self, url: str, *, on_commit: Callable[[], None] | None = None) -> None:
        self.url = url
        self.dsn, self.pool_min, self.pool_max = pool_settings(url)
        self._pool: asyncpg.Pool | None = None
        self._on_commit = on_commit
        self.close_timeout = CLOSE_TIMEOUT

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.pool_min,
                max_size=self.pool_max,
                command_timeout=60,
                server_settings={"application_name": "sessionbot", "TimeZone": "UTC"},
            )
        except _ERRORS as exc:
            raise StoreError(
                f"Could not connect to PostgreSQL at {safe_url(self.url)}: {exc.__class__.__name__}"
            ) from exc

    async def close(self) -> None:
        """Close the pool; connections still in use after `close_timeout` are terminated."""
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

    async def write(self, unit: db.Unit[T], *, notify: bool = True) -> T:
        with self.timed("write"):
            pool = self._require()
            for attempt in range(MAX_REPLAYS + 1):
                try:
                    async with pool.acquire() as conn, conn.transaction():
                        result = await unit(PgTx(conn))
                    break
                except _ERRORS as exc:
                    if getattr(exc, "sqlstate", None) not in _REPLAYED or attempt == MAX_REPLAYS:
                        raise translate(exc, "write") from exc
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # then replay
        if notify and self._on_commit is not None:
            self._on_commit()
        return result

    async def run_raw(self, unit: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `unit` on a pooled connection outside any transaction (DDL scripts, checks)."""
        with self.timed("raw"):
            try:
                async with self._require().acquire() as conn:
                    return await unit(conn)
            except _ERRORS as exc:
                raise translate(exc, "command") from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        with self.timed("read"):
            try:
                return list(await self._require().fetch(numbered(sql), *params))
            except _ERRORS as exc:
                raise translate(exc, "read") from exc


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
