"""`sessionbot db copy`: every row of one store into another, SQLite ↔ PostgreSQL, verified.

`store.copy` (`Copy`) reads and writes every data table of either backend in a neutral form:
values are None, int, float or str, timestamps as `codec.ts` text, JSON as the text written,
flags as 0/1 — SQLite's own values, which PostgreSQL's are turned into and back from by column
type. Columns a database fills itself are left out (`LOCAL_COLUMNS`): the generated search
vector, the workspaces triggers keep beside messages and plans, and `row_no`, which stands in
for SQLite's rowid and is filled in insertion order, so reading in `row_no` order and writing
in rowid order keeps that order. All a backend adds is what its catalog is asked (`_CATALOGS`).

Tables go parents first, as the foreign keys in the catalog say; `sessions.parent_id` (a
session's own table) is filled in a second pass. Rows already at the destination are skipped
(`ON CONFLICT DO NOTHING`), so an interrupted copy is simply run again. At the end every table
is compared: row count and an order-independent checksum (the sum of each row's SHA-256), so a
row that differs, is missing or is extra at the destination is reported by table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter
from typing import Any

from core.store.codec import parse_ts, ts
from core.store.db import Database, marks

Value = None | int | float | str
Row = tuple[Value, ...]

# (key, column) of columns referring to rows of their own table: written after every row is in.
DEFERRED = {"sessions": ("id", "parent_id")}
BATCH = 1000
_MOD = 1 << 256


class CopyError(Exception):
    """The two stores cannot be copied between (a table or column one of them lacks)."""


# Not data: migration bookkeeping, SQLite's own tables, and the FTS index (its triggers
# rebuild it as messages are inserted).
_SKIP_TABLES = frozenset({"schema_migrations"})
_SKIP_PREFIXES = ("sqlite_", "messages_fts")
# Columns a database fills itself: PostgreSQL's insertion order, search vector and the
# workspace kept beside it (migration 0011); a plan's session's workspace (migration 0013,
# both backends). Never copied, never exported.
LOCAL_COLUMNS = frozenset({"row_no", "search", "search_workspace", "session_workspace"})


@dataclass(frozen=True, slots=True)
class _Catalog:
    """What each engine's catalog is asked, the one part of a copy that truly differs."""

    #: (table, column, type, generated) of every table, by table and position; a generated
    #: column, or the dialect's insertion-order one, is read to page by but never copied.
    columns: str
    primary_key: str  # a table's (`?`, its name) primary-key columns in key order
    references: str  # (table, table it refers to) of every foreign key
    identities: str | None  # (table, column) of keys drawn from a sequence, moved on after a copy
    text_holds_nul: bool


_CATALOGS = {
    "sqlite": _Catalog(
        # every table has a rowid, its insertion order; SQLite types every value itself ('')
        columns="SELECT name, 'rowid', '', 'ALWAYS', -1 FROM sqlite_master WHERE type = 'table'"
        " UNION ALL SELECT m.name, c.name, '', 'NEVER', c.cid FROM sqlite_master m"
        " JOIN pragma_table_info(m.name) c WHERE m.type = 'table' ORDER BY 1, 5",
        primary_key="SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
        references='SELECT m.name, f."table" FROM sqlite_master m'
        " JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY 1, 2",
        identities=None,  # integer keys continue from the largest one present
        text_holds_nul=True,
    ),
    "postgres": _Catalog(
        columns="SELECT c.table_name, c.column_name, c.data_type, c.is_generated"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position",
        primary_key="SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = quote_ident(?)::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey, a.attnum)",
        references="SELECT k.relname, p.relname FROM pg_constraint c"
        " JOIN pg_class k ON k.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid"
        " WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
        " ORDER BY 1, 2",
        identities="SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'",
        text_holds_nul=False,
    ),
}
_RESEQUENCE = (
    "SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({column}), 0) + 1, false)"
    " FROM {table}"
)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def neutral(value: Any) -> Value:
    """A value as SQLite keeps it: a timestamp as `codec.ts` text, a flag as 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return ts(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _native(value: Value, data_type: str) -> Any:
    """A neutral value as a column of `data_type` takes it (SQLite's columns, typed '', as is)."""
    if value is None or not data_type:
        return value
    if data_type == "timestamp with time zone":
        return parse_ts(str(value))
    if data_type == "boolean":
        return bool(value)
    if data_type in ("integer", "bigint", "smallint"):
        return int(value)
    if data_type in ("double precision", "real"):
        return float(value)
    return str(value)


class Copy:
    """Raw rows of every data table in the neutral form: one side of `db copy`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sql = _CATALOGS[db.dialect.name]
        self._catalog: tuple[dict[str, list[str]], dict[tuple[str, str], str]] | None = None

    async def _read_catalog(self) -> tuple[dict[str, list[str]], dict[tuple[str, str], str]]:
        """Data tables with their copied columns, and every column's type (read once)."""
        if self._catalog is None:
            tables: dict[str, list[str]] = {}
            types: dict[tuple[str, str], str] = {}
            found = await self.db.fetchall(self._sql.columns)
            local = LOCAL_COLUMNS | {self.db.dialect.insertion_order}  # read, never copied
            for table, column, data_type, generated, *_ in found:
                if table in _SKIP_TABLES or table.startswith(_SKIP_PREFIXES):
                    continue
                types[(table, column)] = data_type
                if generated != "ALWAYS" and column not in local:
                    tables.setdefault(table, []).append(column)
            self._catalog = tables, types
        return self._catalog

    async def tables(self) -> dict[str, list[str]]:
        """Each data table and its columns (no migration bookkeeping, no search indexes)."""
        return (await self._read_catalog())[0]

    async def ordered(self) -> list[tuple[str, list[str]]]:
        """Each data table with its columns, in the same order every time: a table after those
        its foreign keys refer to (a reference to its own table is filled in later: DEFERRED)."""
        tables = await self.tables()
        parents: dict[str, list[str]] = {table: [] for table in sorted(tables)}
        for child, parent in await self.db.fetchall(self._sql.references):
            if child in tables and parent in tables and parent != child:
                parents[child].append(parent)
        return [(table, tables[table]) for table in TopologicalSorter(parents).static_order()]

    async def rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Row]]:
        """Every row of `table` in batches, in insertion order where the table has one (rowid,
        `row_no`), else in primary-key order."""
        _, types = await self._read_catalog()
        keys = [self.db.dialect.insertion_order]
        if (table, keys[0]) not in types:
            keys = [r[0] for r in await self.db.fetchall(self._sql.primary_key, (table,))]
        if not keys:
            raise CopyError(f"{table} has no primary key to page by")
        by = ", ".join(_quoted(c) for c in keys)
        select = f"SELECT {by}, {', '.join(_quoted(c) for c in columns)} FROM {_quoted(table)}"
        following = f"{select} WHERE ({by}) > ({marks(len(keys))}) ORDER BY {by} LIMIT {BATCH}"
        found = await self.db.fetchall(f"{select} ORDER BY {by} LIMIT {BATCH}")
        while found:
            yield [tuple(neutral(v) for v in tuple(row)[len(keys) :]) for row in found]
            if len(found) < BATCH:
                return
            found = await self.db.fetchall(following, tuple(found[-1])[: len(keys)])

    async def insert(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        """Insert rows, skipping those whose key is already there."""
        if not self._sql.text_holds_nul and any(
            isinstance(v, str) and "\x00" in v for row in rows for v in row
        ):
            raise CopyError(
                f"a row of {table} holds a NUL character, which PostgreSQL text can't store;"
                " remove it at the source and copy again"
            )
        _, types = await self._read_catalog()
        kinds = [types[(table, c)] for c in columns]
        values = [tuple(_native(v, k) for v, k in zip(row, kinds, strict=True)) for row in rows]
        sql = (
            f"INSERT INTO {_quoted(table)} ({', '.join(_quoted(c) for c in columns)})"
            f" VALUES ({marks(len(columns))}) ON CONFLICT DO NOTHING"
        )
        await self.db.write(lambda tx: tx.executemany(sql, values))

    async def update(
        self, table: str, key: str, column: str, values: list[tuple[Value, Value]]
    ) -> None:
        """Set `column` to the value of each (key, value) pair."""
        _, types = await self._read_catalog()
        kinds = (types[(table, column)], types[(table, key)])
        sql = f"UPDATE {_quoted(table)} SET {_quoted(column)} = ? WHERE {_quoted(key)} = ?"
        pairs = [(_native(v, kinds[0]), _native(k, kinds[1])) for k, v in values]
        await self.db.write(lambda tx: tx.executemany(sql, pairs))

    async def finish(self) -> None:
        """After a copy: move each identity column's sequence past the largest key present."""
        if self._sql.identities is None:
            return
        for table, column in await self.db.fetchall(self._sql.identities):
            resequence = _RESEQUENCE.format(column=_quoted(column), table=_quoted(table))
            await self.db.fetchone(resequence, (_quoted(table), column))


@dataclass(slots=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    matches: bool


@dataclass(slots=True)
class CopyReport:
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.matches for t in self.tables)

    @property
    def mismatched(self) -> list[str]:
        return [t.table for t in self.tables if not t.matches]


def _row_hash(row: Row) -> int:
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


async def fingerprint(store: Copy, table: str, columns: Sequence[str]) -> tuple[int, int]:
    """(row count, order-independent checksum) of `columns` of a table."""
    count, total = 0, 0
    async for batch in store.rows(table, columns):
        count += len(batch)
        for row in batch:
            total = (total + _row_hash(row)) % _MOD
    return count, total


async def _plan(source: Copy, target: Copy) -> list[tuple[str, list[str]]]:
    """The tables to copy with the columns both sides have; refuses a source table or column
    the destination lacks (its schema is older, or it is not a sessionbot database)."""
    plan, ours = await source.ordered(), await target.tables()
    for table, columns in plan:
        if table not in ours:
            raise CopyError(f"the destination has no table {table!r}: is its schema older?")
        missing = [c for c in columns if c not in ours[table]]
        if missing:
            raise CopyError(f"the destination's {table} lacks columns {', '.join(missing)}")
    return plan


async def copy_store(
    source: Copy, target: Copy, *, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy every row from `source` into `target`, then verify both sides table by table."""
    plan = await _plan(source, target)
    deferred: dict[str, list[tuple[Value, Value]]] = {}
    for table, columns in plan:
        copied = 0
        key, late = DEFERRED.get(table, ("", ""))
        late_at = columns.index(late) if late in columns else None
        key_at = columns.index(key) if key in columns else 0
        async for batch in source.rows(table, columns):
            if late_at is not None:
                deferred.setdefault(table, []).extend(
                    (row[key_at], row[late_at]) for row in batch if row[late_at] is not None
                )
                batch = [(*row[:late_at], None, *row[late_at + 1 :]) for row in batch]
            await target.insert(table, columns, batch)
            copied += len(batch)
        if progress is not None:
            progress(table, copied)
    for table, values in deferred.items():
        key, column = DEFERRED[table]
        for start in range(0, len(values), BATCH):
            await target.update(table, key, column, values[start : start + BATCH])
    await target.finish()
    return await verify(source, target, plan)


async def verify(
    source: Copy, target: Copy, plan: list[tuple[str, list[str]]] | None = None
) -> CopyReport:
    """Compare each table's row count and checksum on both sides."""
    plan = await source.ordered() if plan is None else plan
    report = CopyReport()
    for table, columns in plan:
        theirs = await fingerprint(source, table, columns)
        ours = await fingerprint(target, table, columns)
        report.tables.append(TableCheck(table, theirs[0], ours[0], theirs == ours))
    return report
