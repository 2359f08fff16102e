"""Which store a database URL names: the one place that knows both backends."""

from __future__ import annotations

from core.store.postgres.store import PostgresStore
from core.store.sqlite.store import SqliteStore
from core.store.store import Store


def open_store(url: str) -> Store:
    """The store for a database URL: `sqlite:///…` or `postgresql://…` (`postgres://…`)."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise ValueError(f"unsupported database URL {url!r}")
