"""Mapping PostgreSQL rows (asyncpg records) to domain records.

asyncpg hands back timestamptz as aware datetimes, booleans as bool and `json` as its text,
so only JSON needs decoding here.
"""

from __future__ import annotations

from asyncpg import Record

from core.models import (
    Approval,
    Decision,
    Event,
    EventType,
    ItemStatus,
    Member,
    ModAction,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    Plan,
    PlanItem,
    PlanModification,
    PlanStatus,
    Role,
    Session,
    Source,
    Status,
)
from core.store.codec import loads

_STATUS = {s.value: s for s in Status}
_EVENT_TYPE = {t.value: t for t in EventType}
_SOURCE = {s.value: s for s in Source}

SESSION_COLUMNS = (
    "id, ref, workspace, channel_id, thread_ref, owner_id, title, mode, status, context, "
    "metadata, iterations, max_iterations, created_at, updated_at, last_activity_at, ended_at, "
    "abandon_at, result, outcome, error, parent_id, forked_from_message_id, version"
)
S_COLUMNS = ", ".join(f"s.{c.strip()}" for c in SESSION_COLUMNS.split(","))


def session(row: Record) -> Session:
    """A row selected with SESSION_COLUMNS, read by position."""
    (
        id_, ref, workspace, channel_id, thread_ref, owner_id, title, mode, status, context,
        metadata, iterations, max_iterations, created_at, updated_at, last_activity_at, ended_at,
        abandon_at, result, outcome, error, parent_id, forked_from, version,
    ) = tuple(row)[:24]  # fmt: skip
    return Session(
        id=id_, ref=ref, workspace=workspace, channel_id=channel_id, thread_ref=thread_ref,
        owner_id=owner_id, title=title, mode=mode, status=_STATUS[status],
        context=loads(context), metadata=loads(metadata), iterations=iterations,
        max_iterations=max_iterations, created_at=created_at, updated_at=updated_at,
        last_activity_at=last_activity_at, ended_at=ended_at, abandon_at=abandon_at,
        result=result, outcome=outcome, error=error, parent_id=parent_id,
        forked_from_message_id=forked_from, version=version,
    )  # fmt: skip


def member(row: Record) -> Member:
    return Member(
        user_id=row["user_id"],
        role=Role(row["role"]),
        added_by=row["added_by"],
        added_at=row["added_at"],
    )


def plan(row: Record) -> Plan:
    return Plan(
        id=row["id"],
        session_id=row["session_id"],
        version=row["version"],
        status=PlanStatus(row["status"]),
        items=[],
        content_hash=row["content_hash"],
        required_approvals=row["required_approvals"],
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        decision_reason=row["decision_reason"],
        expires_at=row["expires_at"],
        row_version=row["row_version"],
    )


def plan_item(row: Record) -> PlanItem:
    return PlanItem(
        position=row["position"],
        title=row["title"],
        assignee=row["assignee"],
        status=ItemStatus(row["status"]),
        ticket=row["ticket"],
        comments=loads(row["comments"]) or [],
    )


def approval(row: Record) -> Approval:
    return Approval(
        plan_id=row["plan_id"],
        user_id=row["user_id"],
        decision=Decision(row["decision"]),
        content_hash=row["content_hash"],
        reason=row["reason"],
        at=row["at"],
    )


def modification(row: Record) -> PlanModification:
    return PlanModification(
        id=row["id"],
        session_id=row["session_id"],
        plan_id=row["plan_id"],
        position=row["position"],
        user_id=row["user_id"],
        action=ModAction(row["action"]),
        value=row["value"],
        created_at=row["created_at"],
        processed=bool(row["processed"]),
        processed_at=row["processed_at"],
        error=row["error"],
    )


EVENT_COLUMNS = "id, session_id, seq, type, actor_id, source, data, created_at"


def event(row: Record) -> Event:
    """A row selected with EVENT_COLUMNS, read by position."""
    id_, session_id, seq, kind, actor_id, source, data, created_at = tuple(row)[:8]
    return Event(
        id=id_, session_id=session_id, seq=seq, type=_EVENT_TYPE[kind], actor_id=actor_id,
        source=_SOURCE[source], data=loads(data), created_at=created_at,
    )  # fmt: skip


def outbox(row: Record) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        workspace=row["workspace"],
        session_id=row["session_id"],
        kind=OutboxKind(row["kind"]),
        target=loads(row["target"]),
        payload=loads(row["payload"]),
        dedupe_key=row["dedupe_key"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        result_ref=row["result_ref"],
    )
