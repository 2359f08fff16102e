"""`sessionbot db copy`: every row of one store into another, SQLite ↔ PostgreSQL, verified.

Each backend reads and writes its own tables in a neutral form (`CopySource`/`CopyTarget`):
values are None, int, float or str, timestamps as `codec.ts` text, JSON as the text written,
flags as 0/1. Tables go parents first; `sessions.parent_id` (a session's own table) is filled in
a second pass. Rows already at the destination are skipped (`ON CONFLICT DO NOTHING`), so an
interrupted copy is simply run again. At the end every table is compared: row count and an
order-independent checksum (the sum of each row's SHA-256), so a row that differs, is missing
or is extra at the destination is reported by table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

Value = None | int | float | str
Row = tuple[Value, ...]

# Parents before children; tables a store has that are not named here follow, by name.
TABLE_ORDER = (
    "workspaces",
    "sessions",
    "members",
    "plans",
    "plan_items",
    "approvals",
    "plan_messages",
    "plan_modifications",
    "events",
    "messages",
    "message_revisions",
    "context_expiry",
    "outbox",
    "inbound_dedupe",
    "job_runs",
    "reminders",
    "channel_subscriptions",
    "webhook_subscriptions",
    "installations",
    "oauth_states",
)
# (key, column) of columns referring to rows of their own table: written after every row is in.
DEFERRED = {"sessions": ("id", "parent_id")}
BATCH = 1000
_MOD = 1 << 256


class CopySource(Protocol):
    async def copy_tables(self) -> dict[str, list[str]]:
        """Each data table and its columns (no migration bookkeeping, no search indexes)."""
        ...

    def copy_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Row]]:
        """Every row of `table` in batches, in insertion order where the table has one."""
        ...


class CopyTarget(CopySource, Protocol):
    async def copy_insert(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        """Insert rows, skipping those whose key is already there."""
        ...

    async def copy_update(
        self, table: str, key: str, column: str, values: list[tuple[Value, Value]]
    ) -> None:
        """Set `column` to the value of each (key, value) pair."""
        ...

    async def copy_finish(self) -> None:
        """After a copy: move id sequences past the copied keys."""
        ...


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


class CopyError(Exception):
    """The two stores cannot be copied between (a table or column one of them lacks)."""


def _ordered(tables: Sequence[str]) -> list[str]:
    known = [t for t in TABLE_ORDER if t in tables]
    return known + sorted(t for t in tables if t not in TABLE_ORDER)


def _row_hash(row: Row) -> int:
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


async def fingerprint(store: CopySource, table: str, columns: Sequence[str]) -> tuple[int, int]:
    """(row count, order-independent checksum) of `columns` of a table."""
    count, total = 0, 0
    async for batch in store.copy_rows(table, columns):
        count += len(batch)
        for row in batch:
            total = (total + _row_hash(row)) % _MOD
    return count, total


async def _plan(source: CopySource, target: CopyTarget) -> list[tuple[str, list[str]]]:
    """The tables to copy with the columns both sides have; refuses a source table or column
    the destination lacks (its schema is older, or it is not a sessionbot database)."""
    theirs, ours = await source.copy_tables(), await target.copy_tables()
    plan = []
    for table in _ordered(list(theirs)):
        if table not in ours:
            raise CopyError(f"the destination has no table {table!r}: is its schema older?")
        missing = [c for c in theirs[table] if c not in ours[table]]
        if missing:
            raise CopyError(f"the destination's {table} lacks columns {', '.join(missing)}")
        plan.append((table, theirs[table]))
    return plan


async def copy_store(
    source: CopySource,
    target: CopyTarget,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every row from `source` into `target`, then verify both sides table by table."""
    plan = await _plan(source, target)
    deferred: dict[str, list[tuple[Value, Value]]] = {}
    for table, columns in plan:
        copied = 0
        key, late = DEFERRED.get(table, ("", ""))
        late_at = columns.index(late) if late in columns else None
        key_at = columns.index(key) if key in columns else 0
        async for batch in source.copy_rows(table, columns):
            if late_at is not None:
                deferred.setdefault(table, []).extend(
                    (row[key_at], row[late_at]) for row in batch if row[late_at] is not None
                )
                batch = [(*row[:late_at], None, *row[late_at + 1 :]) for row in batch]
            await target.copy_insert(table, columns, batch)
            copied += len(batch)
        if progress is not None:
            progress(table, copied)
    for table, values in deferred.items():
        key, column = DEFERRED[table]
        for start in range(0, len(values), BATCH):
            await target.copy_update(table, key, column, values[start : start + BATCH])
    await target.copy_finish()
    return await verify(source, target, plan)


async def verify(
    source: CopySource, target: CopySource, plan: list[tuple[str, list[str]]] | None = None
) -> CopyReport:
    """Compare each table's row count and checksum on both sides."""
    if plan is None:
        tables = await source.copy_tables()
        plan = [(t, tables[t]) for t in _ordered(list(tables))]
    report = CopyReport()
    for table, columns in plan:
        theirs = await fingerprint(source, table, columns)
        ours = await fingerprint(target, table, columns)
        report.tables.append(TableCheck(table, theirs[0], ours[0], theirs == ours))
    return report
