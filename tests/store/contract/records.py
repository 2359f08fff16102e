"""Records the contract tests write: sessions, events, plans and outbox rows at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import (
    Event,
    EventType,
    ItemStatus,
    Member,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    Plan,
    PlanItem,
    PlanStatus,
    Role,
    Session,
    Source,
    Status,
    new_id,
)
from core.store import ops
from core.store.store import Store
from tests.conftest import WS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def session_record(ref: int, **fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": new_id(), "ref": ref, "workspace": WS, "channel_id": "general",
        "owner_id": "olga", "title": f"session {ref}", "mode": "default",
        "status": Status.ACTIVE, "created_at": NOW, "updated_at": NOW,
        "last_activity_at": NOW, "abandon_at": NOW + timedelta(hours=24),
    }  # fmt: skip
    values.update(fields)
    return Session(**values)


async def new_session(store: Store, *members: Member, **fields: Any) -> Session:
    """A session started the way the service starts one: a ref, then the row (two units)."""
    workspace = str(fields.get("workspace", WS))
    (ref,) = await store.apply([ops.AllocateRef(workspace)])
    session = session_record(ref, **fields)
    owner = Member(session.owner_id, Role.OWNER, session.owner_id, session.created_at)
    await store.apply([ops.NewSession(session, (owner, *members))])
    return session


def event(session_id: str, n: int = 0, at: datetime = NOW, actor: str = "olga") -> Event:
    return Event(new_id(), session_id, 0, EventType.TOOL_CALL, actor, Source.CONSOLE, {"n": n}, at)


def plan_record(session_id: str, version: int = 1, **fields: Any) -> Plan:
    values: dict[str, Any] = {
        "id": new_id(), "session_id": session_id, "version": version,
        "status": PlanStatus.PENDING,
        "items": [PlanItem(2, "second"), PlanItem(1, "first", "ivan", ItemStatus.IN_PROGRESS)],
        "content_hash": f"hash-{version}", "required_approvals": 1,
        "submitted_by": "olga", "submitted_at": NOW + timedelta(minutes=version),
    }  # fmt: skip
    values.update(fields)
    return Plan(**values)


def outbox_row(n: int, **fields: Any) -> OutboxRow:
    values: dict[str, Any] = {
        "id": new_id(), "workspace": WS, "kind": OutboxKind.CHANNEL_MESSAGE,
        "target": {"channel": "general"}, "payload": {"n": n}, "dedupe_key": f"row:{n}",
        "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": NOW,
        "created_at": NOW,
    }  # fmt: skip
    values.update(fields)
    return OutboxRow(**values)
