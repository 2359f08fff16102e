"""Mapping SQLite rows to domain records."""

from __future__ import annotations

import sqlite3

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
from core.store.codec import loads, parse_ts, parse_ts_required

_STATUS = {s.value: s for s in Status}
_EVENT_TYPE = {t.value: t for t in EventType}
_SOURCE = {s.value: s for s in Source}

SESSION_COLUMNS = (
    "id, ref, workspace, channel_id, thread_ref, owner_id, title, mode, status, context, "
    "metadata, iterations, max_iterations, created_at, updated_at, last_activity_at, ended_at, "
    "abandon_at, result, outcome, error, parent_id, forked_from_message_id, version"
)


def session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        ref=row["ref"],
        workspace=row["workspace"],
        channel_id=row["channel_id"],
        thread_ref=row["thread_ref"],
        owner_id=row["owner_id"],
        title=row["title"],
        mode=row["mode"],
        status=_STATUS[row["status"]],
        context=loads(row["context"]),
        metadata=loads(row["metadata"]),
        iterations=row["iterations"],
        max_iterations=row["max_iterations"],
        created_at=parse_ts_required(row["created_at"]),
        updated_at=parse_ts_required(row["updated_at"]),
        last_activity_at=parse_ts_required(row["last_activity_at"]),
        ended_at=parse_ts(row["ended_at"]),
        abandon_at=parse_ts(row["abandon_at"]),
        result=row["result"],
        outcome=row["outcome"],
        error=row["error"],
        parent_id=row["parent_id"],
        forked_from_message_id=row["forked_from_message_id"],
        version=row["version"],
    )


def member(row: sqlite3.Row) -> Member:
    return Member(
        user_id=row["user_id"],
        role=Role(row["role"]),
        added_by=row["added_by"],
        added_at=parse_ts(row["added_at"]),
    )


def plan(row: sqlite3.Row) -> Plan:
    return Plan(
        id=row["id"],
        session_id=row["session_id"],
        version=row["version"],
        status=PlanStatus(row["status"]),
        items=[],
        content_hash=row["content_hash"],
        required_approvals=row["required_approvals"],
        submitted_by=row["submitted_by"],
        submitted_at=parse_ts_required(row["submitted_at"]),
        decided_at=parse_ts(row["decided_at"]),
        decided_by=row["decided_by"],
        decision_reason=row["decision_reason"],
        expires_at=parse_ts(row["expires_at"]),
        row_version=row["row_version"],
    )


def plan_item(row: sqlite3.Row) -> PlanItem:
    return PlanItem(
        position=row["position"],
        title=row["title"],
        assignee=row["assignee"],
        status=ItemStatus(row["status"]),
        ticket=row["ticket"],
        comments=loads(row["comments"]) or [],
    )


def approval(row: sqlite3.Row) -> Approval:
    return Approval(
        plan_id=row["plan_id"],
        user_id=row["user_id"],
        decision=Decision(row["decision"]),
        content_hash=row["content_hash"],
        reason=row["reason"],
        at=parse_ts_required(row["at"]),
    )


def modification(row: sqlite3.Row) -> PlanModification:
    return PlanModification(
        id=row["id"],
        session_id=row["session_id"],
        plan_id=row["plan_id"],
        position=row["position"],
        user_id=row["user_id"],
        action=ModAction(row["action"]),
        value=row["value"],
        created_at=parse_ts_required(row["created_at"]),
        processed=bool(row["processed"]),
        processed_at=parse_ts(row["processed_at"]),
        error=row["error"],
    )


def event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        session_id=row["session_id"],
        seq=row["seq"],
        type=_EVENT_TYPE[row["type"]],
        actor_id=row["actor_id"],
        source=_SOURCE[row["source"]],
        data=loads(row["data"]),
        created_at=parse_ts_required(row["created_at"]),
    )


def outbox(row: sqlite3.Row) -> OutboxRow:
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
        next_attempt_at=parse_ts_required(row["next_attempt_at"]),
        created_at=parse_ts_required(row["created_at"]),
        last_error=row["last_error"],
        delivered_at=parse_ts(row["delivered_at"]),
        result_ref=row["result_ref"],
    )
