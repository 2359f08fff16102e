"""The export file format: domain records to JSON objects and back, checked field by field.

Decoding never trusts the file: every field is type-checked and a problem names its place
(`messages[12].seq: expected an integer`), so a bad file is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from core.errors import UsageError
from core.models import (
    Approval,
    Decision,
    Event,
    EventType,
    ItemStatus,
    Member,
    ModAction,
    Plan,
    PlanItem,
    PlanModification,
    PlanStatus,
    Role,
    Session,
    Source,
    Status,
)
from core.records.history import Message, MessageRole, Revision

FORMAT_VERSION = 1
E = TypeVar("E", bound=StrEnum)


class BadFile(UsageError):
    """The import file is not a sessionbot export (or is damaged); nothing was imported."""

    def __init__(self, where: str, problem: str) -> None:
        place = f" at {where}" if where else ""
        super().__init__(f"Refused the import file{place}: {problem}. Nothing was imported.")


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- encoding ----------------------------------------------------------------------------------


def session_record(s: Session) -> dict[str, Any]:
    return {
        "id": s.id, "ref": s.ref, "workspace": s.workspace, "channel_id": s.channel_id,
        "thread_ref": s.thread_ref, "owner_id": s.owner_id, "title": s.title, "mode": s.mode,
        "status": s.status.value, "context": s.context, "metadata": s.metadata,
        "iterations": s.iterations, "max_iterations": s.max_iterations,
        "created_at": _ts(s.created_at), "updated_at": _ts(s.updated_at),
        "last_activity_at": _ts(s.last_activity_at), "ended_at": _ts(s.ended_at),
        "abandon_at": _ts(s.abandon_at), "result": s.result, "outcome": s.outcome,
        "error": s.error, "parent_id": s.parent_id,
        "forked_from_message_id": s.forked_from_message_id, "version": s.version,
    }  # fmt: skip


def member_record(m: Member) -> dict[str, Any]:
    return {"user_id": m.user_id, "role": m.role.value, "added_by": m.added_by,
            "added_at": _ts(m.added_at)}  # fmt: skip


def plan_record(p: Plan) -> dict[str, Any]:
    return {
        "id": p.id, "version": p.version, "status": p.status.value,
        "content_hash": p.content_hash, "required_approvals": p.required_approvals,
        "submitted_by": p.submitted_by, "submitted_at": _ts(p.submitted_at),
        "decided_at": _ts(p.decided_at), "decided_by": p.decided_by,
        "decision_reason": p.decision_reason, "expires_at": _ts(p.expires_at),
        "superseded_by": p.superseded_by, "superseded_at": _ts(p.superseded_at),
        "items": [
            {"position": i.position, "title": i.title, "assignee": i.assignee,
             "status": i.status.value, "ticket": i.ticket, "comments": i.comments}
            for i in p.items
        ],
        "approvals": [
            {"user_id": a.user_id, "decision": a.decision.value, "content_hash": a.content_hash,
             "reason": a.reason, "at": _ts(a.at)}
            for a in p.approvals
        ],
    }  # fmt: skip


def modification_record(m: PlanModification) -> dict[str, Any]:
    return {
        "id": m.id, "plan_id": m.plan_id, "position": m.position, "user_id": m.user_id,
        "action": m.action.value, "value": m.value, "created_at": _ts(m.created_at),
        "processed": m.processed, "processed_at": _ts(m.processed_at), "error": m.error,
    }  # fmt: skip


def message_record(m: Message) -> dict[str, Any]:
    return {
        "id": m.id, "seq": m.seq, "role": m.role.value, "author_id": m.author_id,
        "content": m.content, "parent_id": m.parent_id, "metadata": m.metadata,
        "created_at": _ts(m.created_at), "edited_at": _ts(m.edited_at),
        "deleted_at": _ts(m.deleted_at), "deleted_by": m.deleted_by,
        "revisions": [
            {"revision": r.revision, "content": r.content, "written_at": _ts(r.written_at),
             "replaced_at": _ts(r.replaced_at), "replaced_by": r.replaced_by}
            for r in m.revisions
        ],
    }  # fmt: skip


def event_record(e: Event) -> dict[str, Any]:
    return {"id": e.id, "seq": e.seq, "type": e.type.value, "actor_id": e.actor_id,
            "source": e.source.value, "data": e.data, "created_at": _ts(e.created_at)}  # fmt: skip


# -- decoding ----------------------------------------------------------------------------------


class Reader:
    """Typed access to one JSON object of the file, naming its place in every complaint."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise BadFile(where, "expected an object")
        self.data: dict[str, Any] = data
        self.where = where

    def _get(self, key: str, kinds: tuple[type, ...], optional: bool) -> Any:
        value = self.data.get(key)
        if value is None:
            if optional:
                return None
            raise BadFile(f"{self.where}.{key}", "missing")
        if not isinstance(value, kinds) or (bool in kinds) != isinstance(value, bool):
            names = " or ".join(k.__name__ for k in kinds)
            raise BadFile(f"{self.where}.{key}", f"expected {names}")
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, (str,), False))

    def text_or_none(self, key: str) -> str | None:
        value = self._get(key, (str,), True)
        return None if value is None else str(value)

    def number(self, key: str) -> int:
        return int(self._get(key, (int,), False))

    def flag(self, key: str) -> bool:
        return bool(self._get(key, (bool,), False))

    def obj(self, key: str) -> dict[str, Any]:
        value = self._get(key, (dict,), True)
        return dict(value) if value is not None else {}

    def items(self, key: str) -> list[Any]:
        value = self._get(key, (list,), True)
        return list(value) if value is not None else []

    def time(self, key: str) -> datetime:
        value = self.time_or_none(key)
        if value is None:
            raise BadFile(f"{self.where}.{key}", "missing")
        return value

    def time_or_none(self, key: str) -> datetime | None:
        text = self.text_or_none(key)
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise BadFile(f"{self.where}.{key}", "not an ISO timestamp") from None
        if value.tzinfo is None:
            raise BadFile(f"{self.where}.{key}", "timestamp without a timezone")
        return value

    def choice(self, key: str, enum: type[E]) -> E:
        text = self.text(key)
        try:
            return enum(text)
        except ValueError:
            raise BadFile(f"{self.where}.{key}", f"`{text[:40]}` is not allowed") from None

    def each(self, key: str, decode: Callable[[Reader], Any]) -> list[Any]:
        return [
            decode(Reader(v, f"{self.where}.{key}[{i}]")) for i, v in enumerate(self.items(key))
        ]


def read_session(r: Reader) -> Session:
    return Session(
        id=r.text("id"), ref=r.number("ref"), workspace=r.text("workspace"),
        channel_id=r.text("channel_id"), thread_ref=r.text_or_none("thread_ref"),
        owner_id=r.text("owner_id"), title=r.text("title"), mode=r.text("mode"),
        status=r.choice("status", Status), context=r.obj("context"), metadata=r.obj("metadata"),
        iterations=r.number("iterations"), max_iterations=r.number("max_iterations"),
        created_at=r.time("created_at"), updated_at=r.time("updated_at"),
        last_activity_at=r.time("last_activity_at"), ended_at=r.time_or_none("ended_at"),
        abandon_at=r.time_or_none("abandon_at"), result=r.text_or_none("result"),
        outcome=r.text_or_none("outcome"), error=r.text_or_none("error"),
        parent_id=r.text_or_none("parent_id"),
        forked_from_message_id=r.text_or_none("forked_from_message_id"),
        version=r.number("version"),
    )  # fmt: skip


def read_member(r: Reader) -> Member:
    return Member(r.text("user_id"), r.choice("role", Role), r.text_or_none("added_by"),
                  r.time_or_none("added_at"))  # fmt: skip


def read_plan(r: Reader) -> Plan:
    plan_id = r.text("id")
    return Plan(
        id=plan_id, session_id="", version=r.number("version"),
        status=r.choice("status", PlanStatus), content_hash=r.text("content_hash"),
        required_approvals=r.number("required_approvals"), submitted_by=r.text("submitted_by"),
        submitted_at=r.time("submitted_at"), decided_at=r.time_or_none("decided_at"),
        decided_by=r.text_or_none("decided_by"), decision_reason=r.text_or_none("decision_reason"),
        expires_at=r.time_or_none("expires_at"), superseded_by=r.text_or_none("superseded_by"),
        superseded_at=r.time_or_none("superseded_at"),
        items=r.each("items", lambda i: PlanItem(
            i.number("position"), i.text("title"), i.text_or_none("assignee"),
            i.choice("status", ItemStatus), i.text_or_none("ticket"), i.items("comments"))),
        approvals=r.each("approvals", lambda a: Approval(
            plan_id, a.text("user_id"), a.choice("decision", Decision), a.text("content_hash"),
            a.time("at"), a.text_or_none("reason"))),
    )  # fmt: skip


def read_modification(r: Reader) -> PlanModification:
    return PlanModification(
        id=r.text("id"), session_id="", plan_id=r.text("plan_id"), position=r.number("position"),
        user_id=r.text("user_id"), action=r.choice("action", ModAction), value=r.text("value"),
        created_at=r.time("created_at"), processed=r.flag("processed"),
        processed_at=r.time_or_none("processed_at"), error=r.text_or_none("error"),
    )  # fmt: skip


def read_message(r: Reader) -> Message:
    message_id = r.text("id")
    return Message(
        id=message_id, session_id="", seq=r.number("seq"), role=r.choice("role", MessageRole),
        author_id=r.text("author_id"), content=_content(r), created_at=r.time("created_at"),
        parent_id=r.text_or_none("parent_id"), metadata=r.obj("metadata"),
        edited_at=r.time_or_none("edited_at"), deleted_at=r.time_or_none("deleted_at"),
        deleted_by=r.text_or_none("deleted_by"),
        revisions=r.each("revisions", lambda v: Revision(
            message_id, v.number("revision"), v.text("content"), v.time("written_at"),
            v.time("replaced_at"), v.text("replaced_by"))),
    )  # fmt: skip


def _content(r: Reader) -> str:
    value = r.data.get("content")
    if not isinstance(value, str):
        raise BadFile(f"{r.where}.content", "expected str")
    return value


def read_event(r: Reader) -> Event:
    return Event(r.text("id"), "", r.number("seq"), r.choice("type", EventType),
                 r.text("actor_id"), r.choice("source", Source), r.obj("data"),
                 r.time("created_at"))  # fmt: skip
