"""Turning store rows into domain records, the same for both backends.

A row is anything indexable by position and by column name (sqlite3.Row, asyncpg.Record); a
record is read by position (faster than by name) from a row selected with its decoder's
`columns`. Timestamps come back as ISO text from SQLite and as datetimes from asyncpg:
`codec.when` reads either.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar, get_type_hints

from core import jsonlimits, models
from core.errors import Conflict
from core.models import JSON
from core.records import jobs, requests
from core.records.history import Message, Revision
from core.records.installations import InstallationRecord
from core.records.tokens import ApiToken
from core.store.codec import loads, when, when_required
from core.store.db import Row

_log = logging.getLogger(__name__)

T = TypeVar("T")
JsonRead = Callable[[Any, str, object], Any]  # (stored text, table, row key) -> value
_NONE: Mapping[str, Any] = MappingProxyType({})

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
        outcome = "left unchanged, the write refused" if strict else "read as empty"
        _log.warning(
            "unreadable JSON in %s row %s (%s); %s", table, row_id, type(exc).__name__, outcome
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


def expired_contexts(due: Iterable[Sequence[Any]]) -> tuple[dict[str, JSON], list[tuple[str, str]]]:
    """For the context purge, from (session id, key, stored context) rows of expired keys:
    each session's context without those keys, and the (session id, key) expiries done.
    A session whose stored context is damaged is skipped — its context and its expiries stay
    as they are (and are reported) — so a background purge never replaces it with `{}`."""
    contexts: dict[str, JSON] = {}
    damaged: set[str] = set()
    done: list[tuple[str, str]] = []
    for session_id, key, text in due:
        if session_id not in contexts and session_id not in damaged:
            try:
                contexts[session_id] = stored_context(text, session_id)
            except Conflict:
                damaged.add(session_id)
        if session_id in contexts:
            contexts[session_id].pop(key, None)
            done.append((session_id, key))
    return contexts, done


def _reader(hint: Any) -> Callable[[Any], Any] | None:
    """How the column of a field annotated `hint` is read (None: as stored)."""
    if hint is datetime:
        return when_required
    if hint == datetime | None:
        return when
    if hint is bool:
        return bool
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return {m.value: m for m in hint}.__getitem__
    return None


def _optional_json(value: str | None, table: str, row_id: object) -> Any:
    return None if value is None else stored_json(value, table, row_id)


def _comments(value: str | None, table: str, row_id: object) -> Any:
    """A JSON list column (comments, approvers, choices); damaged: read as empty."""
    return stored_json(value, table, row_id, []) or []


def _listed(value: str | None) -> tuple[str, ...]:
    """A webhook's events (a JSON list; empty: every event)."""
    return tuple(loads(value) or ())


def _scopes(value: str) -> tuple[str, ...]:
    """An installation's scopes, kept comma-separated."""
    return tuple(s for s in str(value).split(",") if s)


class Decoder(Generic[T]):
    """A `record` from a row selected with `columns`: its fields in order, read by position.

    Timestamps, enums and flags are read by their annotated type unless `reads` (field:
    function) says otherwise; `json` fields (field: reader such as `stored_json`) are also
    given the `table` and the row's `key` column (selected after the fields if it is none of
    them) to report damage by; `fill` (field: factory) makes the fields that have no column.
    """

    def __init__(
        self,
        record: type[T],
        table: str,
        *,
        key: str = "id",
        json: Mapping[str, JsonRead] = _NONE,
        reads: Mapping[str, Callable[[Any], Any]] = _NONE,
        fill: Mapping[str, Callable[[], Any]] = _NONE,
    ) -> None:
        hints = get_type_hints(record)
        every = [f.name for f in fields(record)]  # type: ignore[arg-type]
        self.names = tuple(name for name in every if name not in fill)
        selected = (*self.names, key) if json and key not in self.names else self.names
        self.columns = ", ".join(selected)
        self.record, self.table, self.width = record, table, len(self.names)
        self.key = selected.index(key) if json else 0
        self.reads = [
            (i, read)
            for i, name in enumerate(self.names)
            if name not in json and (read := reads.get(name) or _reader(hints[name]))
        ]
        self.json = [(self.names.index(name), read) for name, read in json.items()]
        self.fill = sorted((every.index(name), make) for name, make in fill.items())

    def __call__(self, row: Row) -> T:
        values = list(row)[: self.width]
        for i, read in self.reads:
            values[i] = read(values[i])
        for i, read_json in self.json:
            values[i] = read_json(values[i], self.table, row[self.key])
        for i, make in self.fill:
            values.insert(i, make())
        return self.record(*values)


class Decoders:
    """Each record's decoder (`rows.session(row)`); session and event rows are the hot ones."""

    session = Decoder(
        models.Session, "sessions", json=dict.fromkeys(("context", "metadata"), stored_json)
    )
    event = Decoder(models.Event, "events", json={"data": stored_json})
    member = Decoder(models.Member, "members")
    plan = Decoder(
        models.Plan, "plans", fill=dict.fromkeys(("items", "approvals", "messages"), list)
    )
    plan_item = Decoder(models.PlanItem, "plan_items", key="plan_id", json={"comments": _comments})
    approval = Decoder(models.Approval, "approvals")
    plan_message = Decoder(models.PlanMessageRef, "plan_messages")
    modification = Decoder(models.PlanModification, "plan_modifications")
    outbox = Decoder(models.OutboxRow, "outbox", reads={"target": loads, "payload": loads})
    message = Decoder(Message, "messages", json={"metadata": stored_json}, fill={"revisions": list})
    revision = Decoder(Revision, "message_revisions")
    request = Decoder(
        requests.Request,
        "requests",
        json={
            "args": stored_json,
            "approvers": _comments,
            "choices": _comments,
            "edited_args": _optional_json,
        },
        fill={"votes": list, "messages": list},
    )
    vote = Decoder(requests.Vote, "request_votes", key="request_id")
    request_message = Decoder(models.PlanMessageRef, "request_messages")
    token = Decoder(ApiToken, "api_tokens")
    job_run = Decoder(jobs.JobRun, "job_runs")
    reminder = Decoder(jobs.Reminder, "reminders")
    subscription = Decoder(jobs.Subscription, "channel_subscriptions")
    webhook = Decoder(jobs.WebhookSubscription, "webhook_subscriptions", reads={"events": _listed})
    installation = Decoder(
        InstallationRecord, "installations", reads={"scopes": _scopes, "data": loads}
    )


rows = Decoders()


def aliased(decode: Decoder[Any], alias: str) -> str:
    """`decode`'s columns as selected from the table named `alias` in a join."""
    return ", ".join(f"{alias}.{c}" for c in decode.columns.split(", "))


def as_json_values(decode: Decoder[Any], *, text: tuple[str, ...] = ()) -> str:
    """`decode`'s columns as selected into a JSON array (`Dialect.rows_of`), the JSON ones
    (`text`) as their text, which the decoder reads as it reads them from a row."""
    return ", ".join(f"CAST({c} AS text)" if c in text else c for c in decode.columns.split(", "))


SESSION_COLUMNS = rows.session.columns
EVENT_COLUMNS = rows.event.columns
