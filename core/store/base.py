"""The Store contract the service relies on; SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.models import Event, Plan, PlanModification, Session
from core.records.history import Message, Revision, SearchHit
from core.records.search import Query
from core.store import ops
from core.store.copy import Copy
from core.store.events import Events
from core.store.installations import Installations
from core.store.jobs import Jobs, Subscriptions
from core.store.outbox import Inbound, Outbox
from core.store.plans import Plans
from core.store.sessions import Sessions, Workspaces
from core.store.telemetry import TelemetryStore
from core.store.tokens import Idempotency, Tokens
from core.store.webhooks import Webhooks


class HistoryStore(Protocol):
    """Messages, search and context (the history feature adds its methods here)."""

    async def append_message(
        self,
        workspace: str,
        ref: str,
        draft: Message,
        check: ops.Check,
        *,
        touch_after: timedelta,
        abandon_after: timedelta,
    ) -> Message: ...
    async def insert_messages(self, messages: Sequence[Message]) -> None: ...
    async def edit_message(
        self,
        session_id: str,
        seq: int,
        content: str,
        *,
        by: str,
        at: datetime,
        extra: Sequence[ops.Op] = (),
    ) -> Message: ...
    async def delete_message(
        self, session_id: str, seq: int, *, by: str, at: datetime, extra: Sequence[ops.Op] = ()
    ) -> Message: ...
    async def message(
        self, session_id: str, *, seq: int | None = None, message_id: str | None = None
    ) -> Message | None: ...
    async def revisions(self, message_ids: Sequence[str]) -> dict[str, list[Revision]]: ...
    async def messages_before(
        self, session_id: str, *, before_seq: int | None, limit: int
    ) -> list[Message]: ...
    async def messages_after(
        self, session_id: str, *, after_seq: int, limit: int
    ) -> list[Message]: ...
    async def thread(self, session_id: str, message_id: str) -> list[Message]: ...
    async def last_seq(self, session_id: str) -> int: ...
    async def message_counts(self, session_id: str) -> tuple[int, int]: ...
    async def role_counts(self, session_id: str) -> dict[str, int]: ...
    async def search_messages(
        self,
        workspace: str,
        query: Query,
        *,
        session_id: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchHit]: ...
    async def context_expiry(self, session_id: str) -> dict[str, datetime]: ...
    async def merge_context(
        self,
        session_id: str,
        merge: Callable[
            [dict[str, Any], dict[str, datetime], str],
            tuple[dict[str, Any], dict[str, datetime | None]],
        ],
        *,
        now: datetime,
        extra: Sequence[ops.Op] = (),
    ) -> tuple[dict[str, Any], dict[str, datetime]]: ...
    async def purge_expired_context(self, now: datetime) -> int: ...
    async def fork_session(
        self,
        workspace: str,
        build: Callable[[int], Sequence[ops.Op]],
        *,
        parent_id: str,
        child_id: str,
        up_to_seq: int,
    ) -> int: ...
    async def import_session(
        self,
        session: Session,
        build: Callable[[int], Sequence[ops.Op]],
        *,
        plans: Sequence[Plan],
        modifications: Sequence[PlanModification],
        messages: Sequence[Message],
        events: Sequence[Event],
        expiry: dict[str, datetime],
    ) -> int: ...
    async def ids_in_use(
        self, *, session_ids: Sequence[str], plan_ids: Sequence[str], message_ids: Sequence[str]
    ) -> bool: ...


class Store(
    HistoryStore,
    TelemetryStore,
    Protocol,
):
    """Everything the service reads and writes; every write unit is atomic."""

    backend: str

    async def open(self, *, migrate: bool = True) -> None: ...
    async def close(self) -> None: ...
    def on_commit(self, listener: Callable[[], None]) -> None: ...
    async def schema_status(self) -> tuple[int, int]: ...
    async def migrate(self) -> list[str]: ...
    async def apply(self, unit: Sequence[ops.Op]) -> list[Any]: ...

    sessions: Sessions
    workspaces: Workspaces
    plans: Plans
    events: Events
    outbox: Outbox
    inbound: Inbound
    jobs: Jobs
    subscriptions: Subscriptions
    webhooks: Webhooks

    async def checkpoint(self) -> None:
        """Routine upkeep of the database files and the planner's statistics."""

    tokens: Tokens
    idempotency: Idempotency
    installations: Installations
    copy: Copy

    async def integrity_problems(self) -> list[str]: ...
