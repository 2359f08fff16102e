"""The store: one object per concern over one `Database`, whichever backend holds the data.

`store.sessions`, `store.plans`, `store.events`, `store.outbox`, … are small typed
repositories whose statements are written once (core/store/db.py explains how one text runs
on both engines); a consumer in core takes the repository it uses, not the whole store. The
backend classes (sqlite/store.py, postgres/store.py) add only what truly differs: opening
their engine, migrations, integrity checks, backup and copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.store import ops
from core.store.db import Database
from core.store.events import Events
from core.store.history import Context, History
from core.store.outbox import Inbound, Outbox
from core.store.plans import Plans
from core.store.sessions import Sessions, Workspaces
from core.store.writes import apply_all


class Repositories:
    """The repositories of one store, built once over its database."""

    backend: str
    db: Database

    def _repositories(self) -> None:
        db = self.db
        self.sessions = Sessions(db)
        self.workspaces = Workspaces(db)
        self.plans = Plans(db)
        self.events = Events(db)
        self.outbox = Outbox(db)
        self.inbound = Inbound(db)
        self.history = History(db)
        self.context = Context(db)

    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]:
        """Apply a unit of work atomically; returns each op's result in op order."""
        return await self.db.write(lambda tx: apply_all(tx, unit))
