"""PostgreSQL's side of `db copy` (see core/store/copy.py): raw rows in the neutral form.

Neutral values are SQLite's: timestamps as `codec.ts` text, JSON as its text (`json` columns
keep the text as written), flags as 0/1. Columns PostgreSQL alone has are left out: generated
ones (the search vector) and `row_no`, which stands in for SQLite's rowid and is filled in
insertion order, so reading in `row_no` order and writing in rowid order keeps that order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from core.store.codec import parse_ts, ts
from core.store.copy import BATCH, CopyError, Row, Value
from core.store.postgres.engine import PgEngine

_SKIP_TABLES = frozenset({"schema_migrations"})
ORDER_COLUMN = "row_no"

_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type, c.is_generated
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""
_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisprimary
ORDER BY array_position(i.indkey, a.attnum)
"""
_IDENTITIES = """
SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND is_identity = 'YES'
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _neutral(value: Any) -> Value:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return ts(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _native(value: Value, data_type: str) -> Any:
    if value is None:
        return None
    if data_type == "timestamp with time zone":
        return parse_ts(str(value))
    if data_type == "boolean":
        return bool(value)
    if data_type in ("integer", "bigint", "smallint"):
        return int(value)
    if data_type in ("double precision", "real"):
        return float(value)
    return str(value)


class PgCopy:
    """Raw table access for copies; `engine` comes from PgStore."""

    engine: PgEngine
    _copy_catalog: tuple[dict[str, list[str]], dict[tuple[str, str], str]] | None = None

    async def _catalog(self) -> tuple[dict[str, list[str]], dict[tuple[str, str], str]]:
        """Data tables with their copied columns, and every column's type (read once)."""
        if self._copy_catalog is not None:
            return self._copy_catalog
        tables: dict[str, list[str]] = {}
        types: dict[tuple[str, str], str] = {}
        for row in await self.engine.fetchall(_COLUMNS):
            table, column = row["table_name"], row["column_name"]
            if table in _SKIP_TABLES:
                continue
            types[(table, column)] = row["data_type"]
            if row["is_generated"] == "ALWAYS" or column == ORDER_COLUMN:
                continue
            tables.setdefault(table, []).append(column)
        self._copy_catalog = (tables, types)
        return tables, types

    async def copy_tables(self) -> dict[str, list[str]]:
        tables, _ = await self._catalog()
        return tables

    async def copy_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Row]]:
        """Batches in `row_no` order where the table has one, else in primary-key order."""
        _, types = await self._catalog()
        if (table, ORDER_COLUMN) in types:
            order = [ORDER_COLUMN]
        else:
            order = [r[0] for r in await self.engine.fetchall(_PRIMARY_KEY, (_quoted(table),))]
        if not order:
            raise CopyError(f"{table} has no primary key to page by")
        listed = ", ".join(_quoted(c) for c in (*order, *columns))
        keys = ", ".join(_quoted(c) for c in order)
        first = f"SELECT {listed} FROM {_quoted(table)} ORDER BY {keys} LIMIT {BATCH}"
        marks = ", ".join(f"${i + 1}" for i in range(len(order)))
        following = (
            f"SELECT {listed} FROM {_quoted(table)} WHERE ({keys}) > ({marks})"
            f" ORDER BY {keys} LIMIT {BATCH}"
        )
        found = await self.engine.fetchall(first)
        while found:
            yield [tuple(_neutral(v) for v in list(row)[len(order) :]) for row in found]
            if len(found) < BATCH:
                return
            after = tuple(found[-1][: len(order)])
            found = await self.engine.fetchall(following, after)

    async def copy_insert(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        _, types = await self._catalog()
        kinds = [types[(table, c)] for c in columns]
        listed = ", ".join(_quoted(c) for c in columns)
        marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
        sql = f"INSERT INTO {_quoted(table)} ({listed}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        if any(isinstance(v, str) and "\x00" in v for row in rows for v in row):
            raise CopyError(
                f"a row of {table} holds a NUL character, which PostgreSQL text can't store;"
                " remove it at the source and copy again"
            )
        values = [tuple(_native(v, k) for v, k in zip(row, kinds, strict=True)) for row in rows]

        async def insert(conn: asyncpg.Connection) -> None:
            await conn.executemany(sql, values)

        await self.engine.write(insert)

    async def copy_update(
        self, table: str, key: str, column: str, values: list[tuple[Value, Value]]
    ) -> None:
        _, types = await self._catalog()
        kinds = (types[(table, key)], types[(table, column)])
        sql = f"UPDATE {_quoted(table)} SET {_quoted(column)} = $2 WHERE {_quoted(key)} = $1"
        pairs = [(_native(k, kinds[0]), _native(v, kinds[1])) for k, v in values]

        async def update(conn: asyncpg.Connection) -> None:
            await conn.executemany(sql, pairs)

        await self.engine.write(update)

    async def copy_finish(self) -> None:
        """Move each identity column's sequence past the largest key now present."""
        for row in await self.engine.fetchall(_IDENTITIES):
            table, column = _quoted(row["table_name"]), _quoted(row["column_name"])
            await self.engine.fetchone(
                f"SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({column}), 0) + 1,"
                f" false) FROM {table}",
                (table, row["column_name"]),
            )
