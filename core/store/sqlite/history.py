"""SQLite queries of the history feature (messages, FTS5 search, context)."""

from __future__ import annotations

from core.store.sqlite.engine import SqliteEngine


class SqliteHistory:
    """Message, search and context queries; `engine` is provided by SqliteStore."""

    engine: SqliteEngine
