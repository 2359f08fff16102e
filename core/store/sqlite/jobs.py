"""SQLite queries of the scheduler feature (due rows, job slots, reminders, subscriptions)."""

from __future__ import annotations

from core.store.sqlite.engine import SqliteEngine


class SqliteJobs:
    """Due-row claims, job-run slots, reminders, subscriptions; `engine` from SqliteStore."""

    engine: SqliteEngine
