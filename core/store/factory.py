"""Which store a database URL names: the one place that knows both backends."""

from __future__ import annotations

from core.store.sqlite.store import SqliteStore
from core.store.store import Store


def open_store(url: str) -> Store:
    """The store for a database URL: `sqlite:///…` or `postgresql://…` (`postgres://…`).

    The PostgreSQL store (and asyncpg) is imported only when a URL names it: a SQLite
    deployment's start-up does not pay for it."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from core.store.postgres.store import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported database URL {url!r}")
