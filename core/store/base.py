"""The Store contract the service relies on; SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.models import Event, OutboxRow, Plan, PlanModification, Session
from core.records.history import Message, Revision, SearchHit
from core.records.jobs import (
    DueSession,
    JobRun,
    JobWrite,
    Reminder,
    Subscription,
    SummaryRows,
    WebhookSubscription,
)
from core.records.search import Query
from core.store import ops
from core.store.copy import Copy
from core.store.events import Events
from core.store.installations import Installations
from core.store.outbox import Inbound, Outbox
from core.store.plans import Plans
from core.store.sessions import Sessions, Workspaces
from core.store.telemetry import TelemetryStore
from core.store.tokens import Idempotency, Tokens


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


class JobStore(Protocol):
    """Due rows, job slots, reminders and subscriptions (the scheduler feature's methods)."""

    async def apply_claimed(self, claims: Sequence[JobWrite], unit: Sequence[ops.Op]) -> bool: ...
    async def finish_job(self, job: str, slot: datetime, *, at: datetime) -> None: ...
    async def job_runs(self, *, workspace: str | None = None) -> list[JobRun]: ...
    async def purge_job_runs(self, before: datetime) -> int: ...
    async def due_abandon(self, now: datetime, *, limit: int) -> list[Session]: ...
    async def due_warnings(
        self, workspace: str, *, now: datetime, horizon: datetime, limit: int
    ) -> list[DueSession]: ...
    async def due_pending_reminders(
        self, workspace: str, *, now: datetime, every: timedelta, limit: int
    ) -> list[DueSession]: ...
    async def due_paused_reminders(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[DueSession]: ...
    async def due_expiries(self, now: datetime, *, limit: int) -> list[str]: ...
    async def due_reminders(self, now: datetime, *, limit: int) -> list[Reminder]: ...
    async def due_archive(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[Session]: ...
    async def due_cleanup(
        self, workspace: str, *, before: datetime, limit: int
    ) -> list[Session]: ...
    async def add_reminder(self, reminder: Reminder) -> None: ...
    async def put_subscription(self, subscription: Subscription) -> None: ...
    async def remove_subscription(self, workspace: str, channel_id: str) -> bool: ...
    async def subscriptions(self, workspace: str | None = None) -> list[Subscription]: ...
    async def summary_rows(
        self, workspace: str, channel_id: str, *, since: datetime, now: datetime
    ) -> SummaryRows: ...
    async def add_webhook(self, webhook: WebhookSubscription) -> None: ...
    async def remove_webhook(
        self, workspace: str, webhook_id: str
    ) -> WebhookSubscription | None: ...
    async def webhooks(self, workspace: str) -> list[WebhookSubscription]: ...
    async def webhook(self, webhook_id: str) -> WebhookSubscription | None: ...
    async def claim_webhook_rows(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]: ...
    async def undelivered_webhooks(self, modification_id: str, *, except_row: str) -> int: ...
    async def export_rows(self, session_id: str) -> dict[str, list[dict[str, Any]]]: ...
    async def delete_archived(self, session_id: str, *, version: int) -> bool: ...
    async def checkpoint(self) -> None: ...


class Store(
    HistoryStore,
    JobStore,
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
    tokens: Tokens
    idempotency: Idempotency
    installations: Installations
    copy: Copy

    async def integrity_problems(self) -> list[str]: ...
