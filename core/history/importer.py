"""Import a JSON export: recreate the session in a workspace, all or nothing.

The whole file is checked before anything is written, and everything is written in one
transaction. The session always gets the next ref of the target workspace; when any id in the
file is already taken (the same export imported twice, say) every id is replaced by a new one
and references follow (threads, plan ids, ids inside event data).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import jsonlimits
from core.errors import Forbidden
from core.history import records
from core.history.records import BadFile, Reader
from core.models import Actor, Event, Plan, PlanModification, Session, new_id
from core.records.history import Message
from core.store import ops

if TYPE_CHECKING:
    from core.history.messages import HistoryService

_log = logging.getLogger(__name__)

# A stored value (at most jsonlimits.MAX_DEPTH deep) sits at most three levels down in an
# export (file → events → event → data), so every export of this sessionbot imports again.
FILE_DEPTH = jsonlimits.MAX_DEPTH + 3


@dataclass(slots=True)
class Contents:
    session: Session
    members: list[Any]
    plans: list[Plan]
    modifications: list[PlanModification]
    messages: list[Message]
    events: list[Event]
    expiry: dict[str, datetime]


@dataclass(slots=True)
class ImportResult:
    session: Session
    messages: int
    events: int
    new_ids: bool


def parse(text: str) -> Contents:
    """Decode and check a whole export file; BadFile says what is wrong and where."""
    try:
        data = jsonlimits.parse(text, "the file", limit=FILE_DEPTH)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadFile(where, f"not valid JSON ({exc.msg}); the file may be truncated") from None
    except jsonlimits.TooDeep:
        raise BadFile("", f"it nests JSON more than {FILE_DEPTH} deep") from None
    root = Reader(data, "file")
    version = root.number("format_version")
    if version != records.FORMAT_VERSION:
        raise BadFile(
            "format_version",
            f"version {version} is not one this sessionbot reads ({records.FORMAT_VERSION})",
        )
    expiry = Reader(root.obj("context_expiry"), "context_expiry")
    contents = Contents(
        session=records.read_session(Reader(root.data.get("session"), "session")),
        members=root.each("members", records.read_member),
        plans=root.each("plans", records.read_plan),
        modifications=root.each("modifications", records.read_modification),
        messages=root.each("messages", records.read_message),
        events=root.each("events", records.read_event),
        expiry={key: expiry.time(key) for key in expiry.data},
    )
    _check(contents)
    return contents


def _check(c: Contents) -> None:
    seqs = [m.seq for m in c.messages]
    if seqs != list(range(1, len(seqs) + 1)):
        raise BadFile("messages", "message seqs are not 1, 2, 3, … in order")
    ids = [m.id for m in c.messages]
    if len(set(ids)) != len(ids):
        raise BadFile("messages", "two messages share an id")
    known = set(ids)
    for m in c.messages:
        if m.parent_id is not None and m.parent_id not in known:
            raise BadFile(f"messages[{m.seq - 1}].parent_id", "names no message in the file")
        if [r.revision for r in m.revisions] != list(range(1, len(m.revisions) + 1)):
            raise BadFile(f"messages[{m.seq - 1}].revisions", "not numbered 1, 2, 3, …")
    event_seqs = [e.seq for e in c.events]
    if any(b <= a for a, b in itertools.pairwise(event_seqs)) or (event_seqs and event_seqs[0] < 1):
        raise BadFile("events", "event seqs are not increasing")
    plan_ids = {p.id for p in c.plans}
    if len(plan_ids) != len(c.plans) or len({p.version for p in c.plans}) != len(c.plans):
        raise BadFile("plans", "two plans share an id or a version")
    for i, mod in enumerate(c.modifications):
        if mod.plan_id not in plan_ids:
            raise BadFile(f"modifications[{i}].plan_id", "names no plan in the file")


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, ids) for k, v in value.items()}
    return value


def _attach(c: Contents, workspace: str, ids: dict[str, str], parent: str | None) -> Contents:
    """The contents under the target workspace with ids mapped by `ids` (identity if empty)."""

    def new(old: str) -> str:
        return ids.get(old, old)

    sid = new(c.session.id)
    plans = [
        dataclasses.replace(
            p,
            id=new(p.id),
            session_id=sid,
            approvals=[dataclasses.replace(a, plan_id=new(p.id)) for a in p.approvals],
        )
        for p in c.plans
    ]
    messages = [
        dataclasses.replace(
            m,
            id=new(m.id),
            session_id=sid,
            parent_id=new(m.parent_id) if m.parent_id else None,
            revisions=[dataclasses.replace(r, message_id=new(m.id)) for r in m.revisions],
        )
        for m in c.messages
    ]
    return Contents(
        session=dataclasses.replace(c.session, id=sid, workspace=workspace, parent_id=parent),
        members=c.members,
        plans=plans,
        modifications=[
            dataclasses.replace(m, id=new(m.id), session_id=sid, plan_id=new(m.plan_id))
            for m in c.modifications
        ],
        messages=messages,
        events=[
            dataclasses.replace(e, id=new(e.id), session_id=sid, data=_rewrite(e.data, ids))
            for e in c.events
        ],
        expiry=c.expiry,
    )


async def import_json(
    history: HistoryService, actor: Actor, text: str, *, workspace: str | None = None
) -> ImportResult:
    """Recreate the exported session in `workspace` (default: the one in the file); admins only."""
    contents = parse(text)
    target = workspace or contents.session.workspace
    if not await history.access.is_admin(dataclasses.replace(actor, workspace=target)):
        raise Forbidden("import sessions into this workspace", ["admin"])
    store = history.store
    clash = await store.history.ids_in_use(
        session_ids=[contents.session.id],
        plan_ids=[p.id for p in contents.plans],
        message_ids=[m.id for m in contents.messages],
    )
    ids: dict[str, str] = {}
    if clash:
        every = [
            contents.session.id,
            *(p.id for p in contents.plans),
            *(m.id for m in contents.modifications),
            *(m.id for m in contents.messages),
            *(e.id for e in contents.events),
        ]
        ids = {old: new_id() for old in every}
    parent = contents.session.parent_id
    if parent is not None:
        found = await store.sessions.by_id(parent)
        parent = parent if found is not None and found.workspace == target else None
    ready = _attach(contents, target, ids, parent)

    def build(ref: int) -> list[ops.Op]:
        return [ops.NewSession(dataclasses.replace(ready.session, ref=ref), tuple(ready.members))]

    ref = await store.history.import_session(
        ready.session,
        build,
        plans=ready.plans,
        modifications=ready.modifications,
        messages=ready.messages,
        events=ready.events,
        expiry=ready.expiry,
    )
    imported = dataclasses.replace(ready.session, ref=ref)
    _log.info("imported session %s as #%s in %s (new ids: %s)", imported.id, ref, target, clash)
    return ImportResult(imported, len(ready.messages), len(ready.events), clash)
