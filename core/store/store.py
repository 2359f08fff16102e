"""The store: one object per concern over one `Database`, whichever backend holds the data.

`store.sessions`, `store.plans`, `store.history`, `store.outbox`, `store.jobs`, … are small
typed repositories whose statements are written once (core/store/db.py explains how one text
runs on both engines); a consumer in core takes the repository it uses, not the whole store.
The backends (sqlite/store.py, postgres/store.py) subclass `Store` for only what truly differs:
their engine, applying migrations, integrity checks and routine upkeep. `open_store`
(factory.py) picks one from a database URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import StoreError
from core.store import claims, ops
from core.store.appends import checked_events
from core.store.births import allocate_refs, groupable, new_sessions
from core.store.claims import Inbound
from core.store.copy import Copy
from core.store.db import Database, Engine, OperationObserver, Tx
from core.store.events import Events
from core.store.groups import Grouper
from core.store.history import Context, History
from core.store.homes import Homes
from core.store.installations import Installations
from core.store.jobs import Jobs, Subscriptions
from core.store.migrations import Migration, load
from core.store.outbox import Outbox
from core.store.plans import Plans
from core.store.requests import Requests
from core.store.sessions import Sessions, Workspaces
from core.store.tallies import Tallies
from core.store.tokens import Idempotency, Tokens
from core.store.web import Web
from core.store.webhooks import Webhooks
from core.store.writes import allocate_ref, apply_all, bind

_log = logging.getLogger(__name__)


class Store:
    """Everything the service reads and writes; every write unit is atomic."""

    backend: str
    engine: Engine
    #: PostgreSQL's group commit of lone checked events and of new sessions (groups.py; refs:
    #: `workspaces.grouped`); SQLite's writer groups every unit already
    appends: Grouper[Any, int] | None = None
    births: Grouper[Any, list[Any]] | None = None

    def __init__(self, db: Database) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._wake_listeners: list[Callable[[frozenset[str]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.db = db
        self.sessions = Sessions(db)
        self.workspaces = Workspaces(db)
        self.tallies = Tallies(db)
        self.plans = Plans(db)
        self.requests = Requests(db)
        self.events = Events(db)
        self.history = History(db)
        self.context = Context(db)
        self.outbox = Outbox(db)
        self.inbound = Inbound(db)
        self.jobs = Jobs(db)
        self.subscriptions = Subscriptions(db)
        self.webhooks = Webhooks(db)
        self.tokens = Tokens(db)
        self.idempotency = Idempotency(db)
        self.installations = Installations(db)
        self.copy = Copy(db)
        self.web = Web(db)
        self.homes = Homes(db)

    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]:
        """Apply a unit of work atomically; returns each op's result in op order."""
        bound = bind(unit, self.db.dialect)  # encoded here, before the unit is queued
        if self.appends is not None and self.births is not None and claims.pending() is None:
            if len(unit) == 1 and isinstance(unit[0], ops.CheckedEvent):
                return [await self.appends.submit((unit[0], bound[0]))]
            if groupable(unit):
                return await self.births.submit((unit, bound))
        return await self.db.write(lambda tx: apply_all(tx, unit, bound))

    async def new_session(self, workspace: str, unit_for: Callable[[int], Sequence[ops.Op]]) -> int:
        """Apply `unit_for(ref)`, the unit creating a session of `workspace` under the next ref
        of it; return that ref.

        With SQLite's single writer the ref is reserved inside the unit: one trip to the writer
        and one commit per start (and a start that fails leaves no gap); `unit_for` then runs
        on the writer, so it must not read. Where rows are locked (PostgreSQL) the ref is
        reserved by a statement of its own first, grouped with other starts' (the workspace row
        is not held while the session is written), and the unit follows (groups.py).
        """
        if self.db.dialect.row_locks:
            ref = await self.workspaces.allocate_ref(workspace)
            await self.apply(unit_for(ref))
            return ref

        async def unit(tx: Tx) -> int:
            ref = await allocate_ref(tx, ops.AllocateRef(workspace))
            await apply_all(tx, unit_for(ref))
            return ref

        return await self.db.write(unit)

    async def _apply_alone(self, item: tuple[Sequence[ops.Op], Sequence[Any]]) -> list[Any]:
        unit, bound = item
        return await self.db.transact(lambda tx: apply_all(tx, unit, bound))

    async def open(self, *, migrate: bool = True) -> None:
        """Open the engine; refuse a database of a newer schema, migrate an older one."""
        self._loop = asyncio.get_running_loop()
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
        for grouper in (self.workspaces.grouped, self.births, self.appends):
            if grouper is not None:
                await grouper.drain()
        await self.engine.close()

    def group_commits(self, lanes: int) -> None:
        """Commit lone checked events, new sessions and ref reservations in groups, `lanes`
        of each kind at once."""
        self.appends = Grouper(self.db, checked_events, lanes=lanes)
        self.births = Grouper(self.db, new_sessions, self._apply_alone, lanes=lanes)
        self.workspaces.grouped = Grouper(
            self.db, allocate_refs, self.workspaces.reserve, lanes=lanes
        )

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed write of this process that may add something
        to deliver (the SQLite writer thread calls it from that thread)."""
        self._listeners.append(listener)

    def _committed(self) -> None:
        for listener in self._listeners:
            listener()

    def on_wake(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call `listener`, on the loop that opened the store, with the wake-up keys
        (core/store/wakes.py) of every unit that commits: this process's, at once, and on
        PostgreSQL the other replicas' (heard by LISTEN)."""
        self._wake_listeners.append(listener)

    def _woke(self, keys: frozenset[str]) -> None:
        """From the committing thread (SQLite's writer) or the loop itself."""
        loop = self._loop
        if loop is None or not self._wake_listeners:
            return
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                self._wake(keys)
                return
        with contextlib.suppress(RuntimeError):  # that loop is closing
            loop.call_soon_threadsafe(self._wake, keys)

    def _wake(self, keys: frozenset[str]) -> None:
        for listener in self._wake_listeners:
            try:
                listener(keys)
            except Exception:
                _log.exception("a wake-up listener failed")

    def observe_operations(self, observer: OperationObserver | None) -> None:
        """Time every write, read and raw call from now on (None stops it)."""
        self.engine.observe = observer

    async def schema_status(self) -> tuple[int, int]:
        """(version of the database, newest version this code knows)."""
        return await self._schema_version(), len(load(self.backend))

    async def migrate(self) -> list[str]:
        """Apply every migration the database lacks, each in its own transaction."""
        applied = await self._apply_missing(load(self.backend))
        for m in applied:
            _log.info("applied migration %04d_%s", m.version, m.name)
        return [f"{m.version:04d}_{m.name}" for m in applied]

    async def _schema_version(self) -> int:
        """The database's schema version, 0 when new (this and what follows: per backend)."""
        raise NotImplementedError

    async def _apply_missing(self, known: list[Migration]) -> list[Migration]:
        """Apply those of `known` the database lacks; return them."""
        raise NotImplementedError

    async def integrity_problems(self) -> list[str]:
        """What the backend's own checks find wrong (empty when healthy)."""
        raise NotImplementedError

    async def checkpoint(self) -> None:
        """Routine upkeep of the database files and the planner's statistics."""
        raise NotImplementedError
