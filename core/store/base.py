"""The Store contract the service relies on; SQLite implements it (PostgreSQL later)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.models import Event, Member, OutboxRow, Plan, PlanModification, Session, Status
from core.store import ops


@dataclass(slots=True)
class SessionPage:
    sessions: list[Session]
    total: int


@dataclass(slots=True)
class StatsRows:
    by_status: dict[str, int] = field(default_factory=dict)
    by_mode: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    average_iterations: float = 0.0
    durations: list[timedelta] = field(default_factory=list)
    approval_latencies: list[timedelta] = field(default_factory=list)


class HistoryStore(Protocol):
    """Messages, search and context (the history feature adds its methods here)."""


class JobStore(Protocol):
    """Due rows, job slots, reminders and subscriptions (the scheduler feature's methods)."""


class Store(HistoryStore, JobStore, Protocol):
    """Everything the service reads and writes; every write unit is atomic."""

    backend: str

    async def open(self, *, migrate: bool = True) -> None: ...
    async def close(self) -> None: ...
    def on_commit(self, listener: Callable[[], None]) -> None: ...
    async def schema_status(self) -> tuple[int, int]: ...
    async def migrate(self) -> list[str]: ...
    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]: ...
    async def session(self, workspace: str, ref: str) -> Session | None: ...
    async def session_by_id(self, session_id: str) -> Session | None: ...
    async def active_session(
        self, workspace: str, channel_id: str, user_id: str
    ) -> Session | None: ...
    async def list_sessions(
        self,
        workspace: str,
        *,
        statuses: Sequence[Status] | None,
        owner_id: str | None,
        mode: str | None,
        limit: int,
        offset: int,
    ) -> SessionPage: ...
    async def members(self, session_id: str) -> list[Member]: ...
    async def current_plan(self, session_id: str) -> Plan | None: ...
    async def plan(self, plan_id: str) -> Plan | None: ...
    async def modifications(self, plan_id: str) -> list[PlanModification]: ...
    async def add_plan_message(
        self, plan_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None: ...
    async def set_modification_result(
        self, modification_id: str, *, now: datetime, error: str | None
    ) -> None: ...
    async def events(
        self, session_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[Event]: ...
    async def settings(self, workspace: str) -> dict[str, Any]: ...
    async def stats(self, workspace: str, since: datetime) -> StatsRows: ...
    async def claim_inbound(self, key: str, now: datetime) -> bool: ...
    async def purge_inbound(self, before: datetime) -> int: ...
    async def claim_outbox(
        self, *, workspaces: Sequence[str], now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]: ...
    async def outbox_delivered(
        self, row_id: str, *, now: datetime, result_ref: str | None
    ) -> None: ...
    async def outbox_failed(
        self, row_id: str, *, error: str, next_attempt_at: datetime, dead: bool
    ) -> None: ...
    async def outbox_counts(self) -> dict[str, int]: ...
    async def outbox_rows(self, *, session_id: str) -> list[OutboxRow]: ...
    async def outbox_is_pending(self, dedupe_key: str) -> bool: ...
    async def set_thread_ref(self, session_id: str, thread_ref: str) -> None: ...
    async def integrity_problems(self) -> list[str]: ...


def open_store(url: str) -> Store:
    """The store for a database URL (sqlite:///… today)."""
    if url.startswith("sqlite:///"):
        from core.store.sqlite.store import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("PostgreSQL support is not built yet")
    raise ValueError(f"unsupported database URL {url!r}")
