"""Messages with their revisions and threads, session context, and whole-session fork and import.

A message's seq is the next one of its session, taken while the session row is held (see
core/store/writes.py), so seqs stay gap-free and unique with several replicas appending.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.errors import Conflict, NotFound
from core.models import JSON, Event, Plan, PlanModification, Session, new_id
from core.records.history import Message, Revision
from core.store import ops, writes
from core.store.codec import dumps, when_required
from core.store.db import Database, Tx, marks
from core.store.decode import Decoder, expired_contexts, rows, stored_context
from core.store.facts import session_facts
from core.store.search import MessageSearch

_M = f"SELECT {rows.message.columns} FROM messages"
_CHUNK = 500  # ids per IN list
_UNSET = "DELETE FROM context_expiry WHERE session_id = ? AND key = ?"
_SET = (
    "INSERT INTO context_expiry (session_id, key, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (session_id, key) DO UPDATE SET expires_at = excluded.expires_at"
)

Build = Callable[[int], Sequence[ops.Op]]
Ops = Sequence[ops.Op]
Revisions = dict[str, list[Revision]]
ContextMerge = Callable[[JSON, dict[str, datetime], str], tuple[JSON, dict[str, datetime | None]]]


async def _insert(tx: Tx, decode: Decoder[Any], records: Iterable[Any], **given: Any) -> None:
    """Insert records as they are: each column of `decode`'s is the record's field of its name
    (or the `given` value)."""
    await writes.insert_all(tx, decode.table, decode.columns, records, **given)


async def insert_messages(tx: Tx, messages: Sequence[Message]) -> None:
    """Insert messages with their seq and revisions as given (append, import, fork, bulk load)."""
    await _insert(tx, rows.message, messages)
    await _insert(tx, rows.revision, [r for m in messages for r in m.revisions])


async def _revisions(reader: Tx | Database, ids: str, args: Sequence[Any]) -> Revisions:
    """The revisions of the messages the `ids` subquery or list names, by message id."""
    by_message: Revisions = {}
    for r in await reader.fetchall(
        f"SELECT {rows.revision.columns} FROM message_revisions"
        f" WHERE message_id IN ({ids}) ORDER BY message_id, revision",
        args,
    ):
        revision = rows.revision(r)
        by_message.setdefault(revision.message_id, []).append(revision)
    return by_message


def _chunks(ids: Sequence[str]) -> Iterator[tuple[str, Sequence[str]]]:
    """(`?, ?, …`, ids) in slices small enough for one statement's parameters."""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        yield marks(len(chunk)), chunk


async def _put_expiry(tx: Tx, session_id: str, expiry: dict[str, Any]) -> None:
    """Set each key's expiry; None removes it."""
    for key, at in expiry.items():
        if at is None:
            await tx.execute(_UNSET, (session_id, key))
        else:
            await tx.execute(_SET, (session_id, key, at))


async def _copy_history(tx: Tx, parent_id: str, child_id: str, up_to: int) -> None:
    """Copy the parent's messages up to seq `up_to` (with revisions) under fresh ids."""
    where, args = "session_id = ? AND seq <= ?", (parent_id, up_to)
    found = [rows.message(r) for r in await tx.fetchall(f"{_M} WHERE {where} ORDER BY seq", args)]
    revisions = await _revisions(tx, f"SELECT id FROM messages WHERE {where}", args)
    new_ids = {m.id: new_id() for m in found}

    def copy(m: Message) -> Message:
        new = new_ids[m.id]
        revised = [dataclasses.replace(r, message_id=new) for r in revisions.get(m.id, [])]
        parent = new_ids.get(m.parent_id, m.parent_id) if m.parent_id else None
        return dataclasses.replace(
            m, id=new, session_id=child_id, parent_id=parent, revisions=revised
        )

    await insert_messages(tx, [copy(m) for m in found])
    await tx.execute(
        "INSERT INTO context_expiry (session_id, key, expires_at)"
        " SELECT ?, key, expires_at FROM context_expiry WHERE session_id = ?",
        (child_id, parent_id),
    )


async def _live(tx: Tx, session_id: str, seq: int) -> Message:
    """The message at `seq`, held until commit (edits of one message queue up)."""
    row = await tx.fetchone(
        f"{_M} WHERE session_id = ? AND seq = ?" + tx.dialect.lock_rows("messages"),
        (session_id, seq),
    )
    if row is None:
        raise NotFound("message", str(seq))
    if row["deleted_at"] is not None:
        raise Conflict(f"Message {seq} was deleted.")
    return rows.message(row)


async def _expiry(reader: Tx | Database, session_id: str) -> dict[str, datetime]:
    sql = "SELECT key, expires_at FROM context_expiry WHERE session_id = ?"
    return {r[0]: when_required(r[1]) for r in await reader.fetchall(sql, (session_id,))}


class History(MessageSearch):
    """A session's messages: append, edit, delete, read, count, search (core/store/search.py),
    fork and import."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes ------------------------------------------------------------------------------

    async def append(
        self,
        workspace: str,
        ref: str,
        draft: Message,
        check: ops.Check,
        *,
        touch_after: timedelta,
        abandon_after: timedelta,
    ) -> Message:
        """Append to the session `ref` names after `check` approves, as its next seq; activity
        is recorded when the last is older than `touch_after` (coalesced)."""

        async def unit(tx: Tx) -> Message:
            facts = await session_facts(tx, workspace, ref, draft.author_id)
            check(facts)
            if draft.parent_id is not None and not await tx.fetchone(
                "SELECT 1 FROM messages WHERE id = ? AND session_id = ?",
                (draft.parent_id, facts.session_id),
            ):
                raise NotFound("message", f"{draft.parent_id} in session #{facts.ref}")
            sql = "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?"
            row = await tx.fetchone(sql, (facts.session_id,))
            assert row is not None
            message = dataclasses.replace(draft, session_id=facts.session_id, seq=int(row[0]))
            await insert_messages(tx, [message])
            await writes.coalesce_activity(
                tx, facts, draft.created_at, touch_after=touch_after, abandon_after=abandon_after
            )
            return message

        return await self.db.write(unit)

    async def insert(self, messages: Sequence[Message]) -> None:
        """Bulk insert with explicit seqs in one transaction (import and corpus loading)."""
        await self.db.write(lambda tx: insert_messages(tx, messages))

    async def edit(
        self, session_id: str, seq: int, content: str, *, by: str, at: datetime, extra: Ops = ()
    ) -> Message:
        """Replace a message's text, keeping the old text as the next revision."""

        async def unit(tx: Tx) -> Message:
            current = await _live(tx, session_id, seq)
            written = current.edited_at or current.created_at
            await tx.execute(
                f"INSERT INTO message_revisions ({rows.revision.columns}) SELECT ?,"
                " COALESCE(MAX(revision), 0) + 1, ?, ?, ?, ? FROM message_revisions"
                " WHERE message_id = ?",
                (current.id, current.content, written, at, by, current.id),
            )
            await tx.execute(
                "UPDATE messages SET content = ?, edited_at = ? WHERE id = ?",
                (content, at, current.id),
            )
            await writes.apply_all(tx, extra)
            return dataclasses.replace(current, content=content, edited_at=at)

        return await self.db.write(unit)

    async def delete(
        self, session_id: str, seq: int, *, by: str, at: datetime, extra: Ops = ()
    ) -> Message:
        """Leave a tombstone: text and revisions gone (and out of search), seq kept."""

        async def unit(tx: Tx) -> Message:
            current = await _live(tx, session_id, seq)
            await tx.execute("DELETE FROM message_revisions WHERE message_id = ?", (current.id,))
            await tx.execute(
                "UPDATE messages SET content = '', deleted_at = ?, deleted_by = ? WHERE id = ?",
                (at, by, current.id),
            )
            await writes.apply_all(tx, extra)
            return dataclasses.replace(current, content="", deleted_at=at, deleted_by=by)

        return await self.db.write(unit)

    # -- reads -------------------------------------------------------------------------------

    async def _messages(self, where: str, *args: Any) -> list[Message]:
        return [rows.message(r) for r in await self.db.fetchall(f"{_M} WHERE {where}", args)]

    async def message(self, session_id: str, *, seq: int) -> Message | None:
        """One message by seq, with its revisions."""
        found = await self._messages("session_id = ? AND seq = ?", session_id, seq)
        for message in found:
            message.revisions = (await self.revisions([message.id])).get(message.id, [])
        return found[0] if found else None

    async def revisions(self, message_ids: Sequence[str]) -> Revisions:
        by_message: Revisions = {}
        for in_list, chunk in _chunks(message_ids):
            by_message.update(await _revisions(self.db, in_list, chunk))
        return by_message

    async def before(self, session_id: str, *, before_seq: int | None, limit: int) -> list[Message]:
        """Newest first, strictly older than `before_seq` (the cursor) when given."""
        older, cursor = ("", []) if before_seq is None else (" AND seq < ?", [before_seq])
        sql = f"session_id = ?{older} ORDER BY seq DESC LIMIT ?"
        return await self._messages(sql, session_id, *cursor, limit)

    async def after(self, session_id: str, *, after_seq: int, limit: int) -> list[Message]:
        """Oldest first, strictly newer than `after_seq` (for export and copying)."""
        return await self._messages(
            "session_id = ? AND seq > ? ORDER BY seq LIMIT ?", session_id, after_seq, limit
        )

    async def thread(self, session_id: str, message_id: str) -> list[Message]:
        """A message and every reply under it, in seq order."""
        found = await self.db.fetchall(
            "WITH RECURSIVE t(id) AS (SELECT id FROM messages WHERE id = ? AND session_id = ?"
            " UNION SELECT m.id FROM messages m JOIN t ON m.parent_id = t.id)"
            f" {_M} WHERE id IN (SELECT id FROM t) ORDER BY seq",
            (message_id, session_id),
        )
        return [rows.message(r) for r in found]

    async def last_seq(self, session_id: str) -> int:
        """The seq of the newest message (0 when there is none); one index probe."""
        sql = "SELECT MAX(seq) FROM messages WHERE session_id = ?"
        row = await self.db.fetchone(sql, (session_id,))
        return int(row[0] or 0) if row else 0

    async def counts(self, session_id: str) -> tuple[int, int]:
        """(last seq, deleted count) of a session."""
        sql = "SELECT COALESCE(MAX(seq), 0), COUNT(deleted_at) FROM messages WHERE session_id = ?"
        row = await self.db.fetchone(sql, (session_id,))
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def role_counts(self, session_id: str) -> dict[str, int]:
        found = await self.db.fetchall(
            "SELECT role, COUNT(*) FROM messages WHERE session_id = ? AND deleted_at IS NULL"
            " GROUP BY role",
            (session_id,),
        )
        return {r[0]: int(r[1]) for r in found}

    # -- whole sessions ----------------------------------------------------------------------

    async def fork(
        self, workspace: str, build: Build, *, parent_id: str, child_id: str, up_to_seq: int
    ) -> int:
        """Allocate a ref, apply `build(ref)` (which creates the child) and copy the parent's
        history up to `up_to_seq`, all in one transaction; returns the child's ref."""

        async def unit(tx: Tx) -> int:
            ref = await writes.allocate_ref(tx, ops.AllocateRef(workspace))
            await writes.apply_all(tx, build(ref))
            await _copy_history(tx, parent_id, child_id, up_to_seq)
            return ref

        return await self.db.write(unit)

    async def import_session(
        self,
        session: Session,
        build: Build,
        *,
        plans: Sequence[Plan],
        modifications: Sequence[PlanModification],
        messages: Sequence[Message],
        events: Sequence[Event],
        expiry: dict[str, datetime],
    ) -> int:
        """Recreate a whole session in one transaction (all or nothing); returns its new ref.
        Plans are inserted as they were (status, decision, supersession), not as submitted."""

        async def unit(tx: Tx) -> int:
            ref = await writes.allocate_ref(tx, ops.AllocateRef(session.workspace))
            await writes.apply_all(tx, build(ref))
            await _insert(tx, rows.plan, plans)
            for plan in plans:
                await _insert(tx, rows.plan_item, plan.items, plan_id=plan.id)
            await _insert(tx, rows.approval, [a for plan in plans for a in plan.approvals])
            await _insert(tx, rows.modification, modifications)
            await insert_messages(tx, messages)
            await _insert(tx, rows.event, events)
            await _put_expiry(tx, session.id, dict(expiry))
            return ref

        return await self.db.write(unit)

    async def ids_in_use(
        self, *, session_ids: Sequence[str], plan_ids: Sequence[str], message_ids: Sequence[str]
    ) -> bool:
        """Whether any of these ids already names a row (an import then takes new ids)."""
        tables = {"sessions": session_ids, "plans": plan_ids, "messages": message_ids}
        for table, ids in tables.items():
            for in_list, chunk in _chunks(ids):
                sql = f"SELECT 1 FROM {table} WHERE id IN ({in_list}) LIMIT 1"
                if await self.db.fetchone(sql, chunk):
                    return True
        return False


class Context:
    """A session's context document and the expiry of its keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def expiry(self, session_id: str) -> dict[str, datetime]:
        return await _expiry(self.db, session_id)

    async def merge(
        self, session_id: str, merge: ContextMerge, *, now: datetime, extra: Ops = ()
    ) -> tuple[JSON, dict[str, datetime]]:
        """Read (held), merge (core's `merge`) and write the context in one transaction, so
        concurrent updates never lose each other; returns the context and its key expiries."""

        async def unit(tx: Tx) -> tuple[JSON, dict[str, datetime]]:
            sql = "SELECT context, status FROM sessions WHERE id = ?"
            row = await tx.fetchone(sql + tx.dialect.lock_rows("sessions"), (session_id,))
            if row is None:
                raise NotFound("session", session_id)
            expiry = await _expiry(tx, session_id)
            context, changes = merge(stored_context(row[0], session_id), expiry, row[1])
            await tx.execute(
                "UPDATE sessions SET context = ?, updated_at = ?, version = version + 1"
                " WHERE id = ?",
                (dumps(context), now, session_id),
            )
            await _put_expiry(tx, session_id, dict(changes))
            await writes.apply_all(tx, extra)
            final = {**expiry, **changes}
            return context, {k: v for k, v in final.items() if v is not None and k in context}

        return await self.db.write(unit)

    async def purge_expired(self, now: datetime) -> int:
        """Remove every context key past its TTL (maintenance); returns how many went."""

        async def unit(tx: Tx) -> int:
            due = await tx.fetchall(
                "SELECT e.session_id, e.key, s.context FROM context_expiry e"
                " JOIN sessions s ON s.id = e.session_id WHERE e.expires_at <= ?"
                " ORDER BY e.session_id" + tx.dialect.lock_rows("s"),
                (now,),
            )
            contexts, done = expired_contexts(due)
            if contexts:
                await tx.executemany(
                    "UPDATE sessions SET context = ?, version = version + 1 WHERE id = ?",
                    [(dumps(context), session_id) for session_id, context in contexts.items()],
                )
            if done:
                await tx.executemany(_UNSET, done)
            return len(done)

        return await self.db.write(unit)
