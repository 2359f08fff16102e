"""What every store does the same way around its engine: opening (refusing a newer schema,
migrating an older one), closing, telling listeners about commits and timing operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import StoreError
from core.store.telemetry import OperationObserver


class StoreLifecycle:
    """Mixed into each store; the store provides `engine`, `schema_status` and `migrate`."""

    engine: Any  # the store's own engine (its `open` and `close` are used here)
    _listeners: list[Callable[[], None]]

    async def schema_status(self) -> tuple[int, int]:
        """(version of the database, newest version this code knows)."""
        raise NotImplementedError

    async def migrate(self) -> list[str]:
        raise NotImplementedError

    async def open(self, *, migrate: bool = True) -> None:
        await self.engine.open()
        current, latest = await self.schema_status()
        if current > latest:
            await self.close()
            raise StoreError(
                f"The database is at schema version {current}, newer than this sessionbot "
                f"(which knows up to {latest}). Upgrade sessionbot before using this database."
            )
        if migrate and current < latest:
            await self.migrate()

    async def close(self) -> None:
        await self.engine.close()

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed write of this process that may add something
        to deliver (the SQLite writer thread calls it from that thread)."""
        self._listeners.append(listener)

    def _committed(self) -> None:
        for listener in self._listeners:
            listener()

    def observe_operations(self, observer: OperationObserver | None) -> None:
        """Time every write, read and raw call from now on (None stops it)."""
        self.engine.observe = observer
