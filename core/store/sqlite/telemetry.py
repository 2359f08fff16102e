"""SQLite side of the telemetry contract: the engine's timing hook and per-status counts."""

from __future__ import annotations

from core.store.sqlite.engine import SqliteEngine
from core.store.telemetry import OperationObserver


class SqliteTelemetry:
    """Mixed into SqliteStore; `engine` comes from it."""

    engine: SqliteEngine

    def observe_operations(self, observer: OperationObserver | None) -> None:
        """Time every write, read and raw call from now on (None stops it)."""
        self.engine.observe = observer
