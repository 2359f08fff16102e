"""Turning store rows into domain records, the same for every backend.

A row is anything indexable by position and by column name (sqlite3.Row, asyncpg.Record).
Backends differ only in how a timestamp comes back — ISO text from SQLite, an aware datetime
from asyncpg — so each store's `rows` module binds a `RowDecoder` to its own `when`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from core import jsonlimits
from core.errors import Conflict
from core.models import (
    JSON,
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
from core.store.codec import loads, when

_log = logging.getLogger(__name__)

Row = Any  # sqlite3.Row or asyncpg.Record: by position and by name
When = Callable[[Any], datetime | None]

_STATUS = {s.value: s for s in Status}
_EVENT_TYPE = {t.value: t for t in EventType}
_SOURCE = {s.value: s for s in Source}

SESSION_COLUMNS = (
    "id, ref, workspace, channel_id, thread_ref, owner_id, title, mode, status, context, "
    "metadata, iterations, max_iterations, created_at, updated_at, last_activity_at, ended_at, "
    "abandon_at, result, outcome, error, parent_id, forked_from_message_id, version"
)
EVENT_COLUMNS = "id, session_id, seq, type, actor_id, source, data, created_at"

# Stored JSON values that could not be read, by table: each was logged with its row's id and
# read as empty, so one damaged row never takes a workspace's listing (or its delete) down.
UNREADABLE: Counter[str] = Counter()


def stored_json(
    value: str | None, table: str, row_id: object, empty: Any = None, *, strict: bool = False
) -> Any:
    """A JSON column's value; one that is not JSON or nests deeper than jsonlimits allows
    (written before the limit, or damaged in the database) is reported and read as `empty`
    (`{}` unless told). A write path reads `strict`: then such a value raises Conflict, so the
    write is refused instead of replacing the damaged value with a new one built on `empty`."""
    try:
        return jsonlimits.parse(value) if value and value != "{}" else {}
    except (ValueError, TypeError, jsonlimits.TooDeep) as exc:
        UNREADABLE[table] += 1
        _log.warning(
            "unreadable JSON in %s row %s (%s); %s",
            table,
            row_id,
            exc.__class__.__name__,
            "left unchanged, the write refused" if strict else "read as empty",
        )
        if strict:
            raise _damaged(table, row_id) from exc
        return {} if empty is None else empty


def _damaged(table: str, row_id: object) -> Conflict:
    return Conflict(
        f"The stored value of {table} row {row_id} is damaged and can't be read, so it was "
        "left as it is and nothing was changed; an operator has to repair it in the database."
    )


def stored_context(value: str | None, session_id: str) -> JSON:
    """A session's context read to be written back: strict, and it must be an object."""
    context = stored_json(value, "sessions", session_id, strict=True)
    if not isinstance(context, dict):
        UNREADABLE["sessions"] += 1
        _log.warning("context of sessions row %s is not an object; left unchanged", session_id)
        raise _damaged("sessions", session_id)
    return context


def expired_contexts(
    due: Iterable[Sequence[Any]],
) -> tuple[dict[str, JSON], list[tuple[str, str]]]:
    """For the context purge, from (session id, key, stored context) rows of expired keys:
    each session's context without those keys, and the (session id, key) expiries done.
    A session whose stored context is damaged is skipped — its context and its expiries stay
    as they are (and are reported) — so a background purge never replaces it with `{}`."""
    contexts: dict[str, JSON] = {}
    damaged: set[str] = set()
    done: list[tuple[str, str]] = []
    for session_id, key, text in due:
        if session_id in damaged:
            continue
        if session_id not in contexts:
            try:
                contexts[session_id] = stored_context(text, session_id)
            except Conflict:
                damaged.add(session_id)
                continue
        contexts[session_id].pop(key, None)
        done.append((session_id, key))
    return contexts, done


class RowDecoder:
    """Domain records from rows; `when` reads a stored timestamp (None stays None)."""

    def __init__(self, when: When) -> None:
        self.when = when

    def _at(self, value: Any) -> datetime:
        found = self.when(value)
        assert found is not None, "a required timestamp is missing"
        return found

    def session(self, row: Row) -> Session:
        """A row selected with SESSION_COLUMNS, read by position (faster than by name)."""
        (
            id_,
            ref,
            workspace,
            channel_id,
            thread_ref,
            owner_id,
            title,
            mode,
            status,
            context,
            metadata,
            iterations,
            max_iterations,
            created_at,
            updated_at,
            last_activity_at,
            ended_at,
            abandon_at,
            result,
            outcome,
            error,
            parent_id,
            forked_from,
            version,
        ) = tuple(row)[:24]
        return Session(
            id=id_, ref=ref, workspace=workspace, channel_id=channel_id, thread_ref=thread_ref,
            owner_id=owner_id, title=title, mode=mode, status=_STATUS[status],
            context=stored_json(context, "sessions", id_),
            metadata=stored_json(metadata, "sessions", id_), iterations=iterations,
            max_iterations=max_iterations, created_at=self._at(created_at),
            updated_at=self._at(updated_at),
            last_activity_at=self._at(last_activity_at), ended_at=self.when(ended_at),
            abandon_at=self.when(abandon_at), result=result, outcome=outcome, error=error,
            parent_id=parent_id, forked_from_message_id=forked_from, version=version,
        )  # fmt: skip

    def member(self, row: Row) -> Member:
        return Member(
            user_id=row["user_id"],
            role=Role(row["role"]),
            added_by=row["added_by"],
            added_at=self.when(row["added_at"]),
        )

    def plan(self, row: Row) -> Plan:
        return Plan(
            id=row["id"],
            session_id=row["session_id"],
            version=row["version"],
            status=PlanStatus(row["status"]),
            items=[],
            content_hash=row["content_hash"],
            required_approvals=row["required_approvals"],
            submitted_by=row["submitted_by"],
            submitted_at=self._at(row["submitted_at"]),
            decided_at=self.when(row["decided_at"]),
            decided_by=row["decided_by"],
            decision_reason=row["decision_reason"],
            expires_at=self.when(row["expires_at"]),
            superseded_by=row["superseded_by"],
            superseded_at=self.when(row["superseded_at"]),
            row_version=row["row_version"],
        )

    def plan_item(self, row: Row) -> PlanItem:
        return PlanItem(
            position=row["position"],
            title=row["title"],
            assignee=row["assignee"],
            status=ItemStatus(row["status"]),
            ticket=row["ticket"],
            comments=stored_json(row["comments"], "plan_items", row["plan_id"], []) or [],
        )

    def approval(self, row: Row) -> Approval:
        return Approval(
            plan_id=row["plan_id"],
            user_id=row["user_id"],
            decision=Decision(row["decision"]),
            content_hash=row["content_hash"],
            reason=row["reason"],
            at=self._at(row["at"]),
        )

    def modification(self, row: Row) -> PlanModification:
        return PlanModification(
            id=row["id"],
            session_id=row["session_id"],
            plan_id=row["plan_id"],
            position=row["position"],
            user_id=row["user_id"],
            action=ModAction(row["action"]),
            value=row["value"],
            created_at=self._at(row["created_at"]),
            processed=bool(row["processed"]),
            processed_at=self.when(row["processed_at"]),
            error=row["error"],
        )

    def event(self, row: Row) -> Event:
        """A row selected with EVENT_COLUMNS, read by position."""
        id_, session_id, seq, kind, actor_id, source, data, created_at = tuple(row)[:8]
        return Event(
            id=id_, session_id=session_id, seq=seq, type=_EVENT_TYPE[kind], actor_id=actor_id,
            source=_SOURCE[source], data=stored_json(data, "events", id_),
            created_at=self._at(created_at),
        )  # fmt: skip

    def outbox(self, row: Row) -> OutboxRow:
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
            next_attempt_at=self._at(row["next_attempt_at"]),
            created_at=self._at(row["created_at"]),
            last_error=row["last_error"],
            delivered_at=self.when(row["delivered_at"]),
            result_ref=row["result_ref"],
        )


rows = RowDecoder(when)  # one decoder for both backends: `when` reads text or a datetime
