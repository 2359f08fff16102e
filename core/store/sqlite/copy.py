"""SQLite's side of `db copy` (see core/store/copy.py): raw rows of every data table."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence

from core.store.copy import BATCH, Row, Value
from core.store.sqlite.engine import SqliteEngine

# Not data: migration bookkeeping, SQLite's own tables, and the FTS index (its triggers
# rebuild it as messages are inserted).
_SKIP_PREFIXES = ("sqlite_", "messages_fts")
_SKIP = frozenset({"schema_migrations"})


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteCopy:
    """Raw table access for copies; `engine` comes from SqliteStore."""

    engine: SqliteEngine

    async def copy_tables(self) -> dict[str, list[str]]:
        def read(conn: sqlite3.Connection) -> dict[str, list[str]]:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            tables = {}
            for name in names:
                if name in _SKIP or name.startswith(_SKIP_PREFIXES):
                    continue
                info = conn.execute(f"PRAGMA table_info({_quoted(name)})").fetchall()
                tables[name] = [str(column[1]) for column in info]
            return tables

        return await self.engine.run_raw(read)

    async def copy_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Row]]:
        """Batches in rowid order, which is insertion order (and the key where it is an integer)."""
        listed = ", ".join(_quoted(c) for c in columns)
        sql = f"SELECT rowid, {listed} FROM {_quoted(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        after = -(2**63)
        while True:
            found = await self.engine.fetchall(sql, (after, BATCH))
            if not found:
                return
            after = found[-1][0]
            yield [tuple(row[1:]) for row in found]

    async def copy_insert(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        listed = ", ".join(_quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {_quoted(table)} ({listed}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        await self.engine.write(lambda conn: conn.executemany(sql, rows))

    async def copy_update(
        self, table: str, key: str, column: str, values: list[tuple[Value, Value]]
    ) -> None:
        sql = f"UPDATE {_quoted(table)} SET {_quoted(column)} = ? WHERE {_quoted(key)} = ?"
        pairs = [(value, key_value) for key_value, value in values]
        await self.engine.write(lambda conn: conn.executemany(sql, pairs))

    async def copy_finish(self) -> None:
        """Nothing: SQLite's integer keys continue from the largest one present."""
