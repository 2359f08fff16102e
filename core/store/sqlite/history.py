"""SQLite queries of the history feature (messages, FTS5 search, context, fork and import)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.errors import Conflict, NotFound, StoreError, UsageError
from core.models import JSON, OPEN_STATUSES, Event, Plan, PlanModification, Session, new_id
from core.records.history import MATCH_END, MATCH_START, Message, MessageRole, Revision, SearchHit
from core.records.search import Query
from core.store import ops
from core.store.codec import dumps, parse_ts, parse_ts_required, ref_key, ts
from core.store.decode import expired_contexts, stored_context, stored_json
from core.store.sqlite.engine import SqliteEngine
from core.store.sqlite.fts import to_fts5
from core.store.sqlite.writes import add_modification, allocate_ref, apply_all, touch

_ROLE = {r.value: r for r in MessageRole}
_M = (
    "SELECT id, session_id, seq, role, author_id, content, parent_id, metadata, created_at,"
    " edited_at, deleted_at, deleted_by FROM messages"
)

Build = Callable[[int], Sequence[ops.Op]]
ContextMerge = Callable[[JSON, dict[str, datetime], str], tuple[JSON, dict[str, datetime | None]]]


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        seq=row["seq"],
        role=_ROLE[row["role"]],
        author_id=row["author_id"],
        content=row["content"],
        parent_id=row["parent_id"],
        metadata=stored_json(row["metadata"], "messages", row["id"]),
        created_at=parse_ts_required(row["created_at"]),
        edited_at=parse_ts(row["edited_at"]),
        deleted_at=parse_ts(row["deleted_at"]),
        deleted_by=row["deleted_by"],
    )


def _revision(row: sqlite3.Row) -> Revision:
    return Revision(
        message_id=row["message_id"],
        revision=row["revision"],
        content=row["content"],
        written_at=parse_ts_required(row["written_at"]),
        replaced_at=parse_ts_required(row["replaced_at"]),
        replaced_by=row["replaced_by"],
    )


def _message_params(m: Message) -> tuple[Any, ...]:
    return (
        m.id, m.session_id, m.seq, m.role.value, m.author_id, m.content, m.parent_id,
        dumps(m.metadata), ts(m.created_at), ts(m.edited_at), ts(m.deleted_at), m.deleted_by,
    )  # fmt: skip


def insert_messages(conn: sqlite3.Connection, messages: Sequence[Message]) -> None:
    """Insert messages with their seq and revisions as given (import, fork, bulk load)."""
    conn.executemany(
        "INSERT INTO messages (id, session_id, seq, role, author_id, content, parent_id,"
        " metadata, created_at, edited_at, deleted_at, deleted_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_message_params(m) for m in messages],
    )
    conn.executemany(
        "INSERT INTO message_revisions (message_id, revision, content, written_at, replaced_at,"
        " replaced_by) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r.message_id, r.revision, r.content, ts(r.written_at), ts(r.replaced_at),
             r.replaced_by)
            for m in messages
            for r in m.revisions
        ],
    )  # fmt: skip


def _insert_plan(conn: sqlite3.Connection, p: Plan) -> None:
    conn.execute(
        "INSERT INTO plans (id, session_id, version, status, content_hash, required_approvals,"
        " submitted_by, submitted_at, decided_at, decided_by, decision_reason, expires_at,"
        " superseded_by, superseded_at, row_version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (p.id, p.session_id, p.version, p.status.value, p.content_hash, p.required_approvals,
         p.submitted_by, ts(p.submitted_at), ts(p.decided_at), p.decided_by, p.decision_reason,
         ts(p.expires_at), p.superseded_by, ts(p.superseded_at), p.row_version),
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO plan_items (plan_id, position, title, assignee, status, ticket, comments)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(p.id, i.position, i.title, i.assignee, i.status.value, i.ticket, dumps(i.comments))
         for i in p.items],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO approvals (plan_id, user_id, decision, content_hash, reason, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(a.plan_id, a.user_id, a.decision.value, a.content_hash, a.reason, ts(a.at))
         for a in p.approvals],
    )  # fmt: skip


def _insert_events(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    conn.executemany(
        "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.id, e.session_id, e.seq, e.type.value, e.actor_id, e.source.value, dumps(e.data),
          ts(e.created_at)) for e in events],
    )  # fmt: skip


def _put_expiry(conn: sqlite3.Connection, session_id: str, expiry: dict[str, Any]) -> None:
    for key, when in expiry.items():
        if when is None:
            conn.execute(
                "DELETE FROM context_expiry WHERE session_id = ? AND key = ?", (session_id, key)
            )
        else:
            conn.execute(
                "INSERT INTO context_expiry (session_id, key, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (session_id, key) DO UPDATE SET expires_at = excluded.expires_at",
                (session_id, key, ts(when)),
            )


def _copy_history(conn: sqlite3.Connection, parent_id: str, child_id: str, up_to: int) -> None:
    """Copy the parent's messages up to seq `up_to` (with revisions) under fresh ids."""
    found = [_message(r) for r in conn.execute(
        f"{_M} WHERE session_id = ? AND seq <= ? ORDER BY seq", (parent_id, up_to)
    )]  # fmt: skip
    new_ids = {m.id: new_id() for m in found}
    revisions: dict[str, list[Revision]] = {}
    for r in conn.execute(
        "SELECT r.* FROM message_revisions r JOIN messages m ON m.id = r.message_id"
        " WHERE m.session_id = ? AND m.seq <= ? ORDER BY r.message_id, r.revision",
        (parent_id, up_to),
    ):
        rev = _revision(r)
        revisions.setdefault(rev.message_id, []).append(
            dataclasses.replace(rev, message_id=new_ids[rev.message_id])
        )
    copies = [
        dataclasses.replace(
            m,
            id=new_ids[m.id],
            session_id=child_id,
            parent_id=new_ids.get(m.parent_id, m.parent_id) if m.parent_id else None,
            revisions=revisions.get(m.id, []),
        )
        for m in found
    ]
    insert_messages(conn, copies)
    conn.execute(
        "INSERT INTO context_expiry (session_id, key, expires_at)"
        " SELECT ?, key, expires_at FROM context_expiry WHERE session_id = ?",
        (child_id, parent_id),
    )


class SqliteHistory:
    """Message, search and context queries; `engine` is provided by SqliteStore."""

    engine: SqliteEngine

    # -- messages: writes --------------------------------------------------------------------

    async def append_message(
        self,
        workspace: str,
        ref: str,
        draft: Message,
        check: ops.Check,
        *,
        touch_after: timedelta,
        abandon_after: timedelta,
    ) -> Message:
        """Append to the session `ref` names after `check` approves; one write round trip.

        The seq is the next one of the session (gap-free: only this writer assigns seqs), and
        activity is recorded when the last one is older than `touch_after` (coalesced).
        """

        def unit(conn: sqlite3.Connection) -> Message:
            key = ref_key(ref)
            by = "ref = ?" if isinstance(key, int) else "id = ?"
            row = conn.execute(
                "SELECT s.id, s.ref, s.status, s.owner_id, s.last_activity_at, m.role"
                " FROM sessions s LEFT JOIN members m ON m.session_id = s.id AND m.user_id = ?"
                f" WHERE s.workspace = ? AND s.{by}",
                (draft.author_id, workspace, key),
            ).fetchone()
            if row is None:
                raise NotFound("session", f"#{key}" if isinstance(key, int) else ref)
            last = datetime.fromisoformat(row[4])
            check(ops.SessionFacts(row[0], row[1], row[2], row[3], last, row[5]))
            if (
                draft.parent_id is not None
                and not conn.execute(
                    "SELECT 1 FROM messages WHERE id = ? AND session_id = ?",
                    (draft.parent_id, row[0]),
                ).fetchone()
            ):
                raise NotFound("message", f"{draft.parent_id} in session #{row[1]}")
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?", (row[0],)
            ).fetchone()
            message = dataclasses.replace(draft, session_id=row[0], seq=seq)
            insert_messages(conn, [message])
            now = draft.created_at
            if now - last >= touch_after:
                deadline = now + abandon_after if row[2] in OPEN_STATUSES else None
                touch(conn, ops.Touch(row[0], now, deadline))
            return message

        return await self.engine.write(unit)

    async def insert_messages(self, messages: Sequence[Message]) -> None:
        """Bulk insert with explicit seqs in one transaction (import and corpus loading)."""
        await self.engine.write(lambda conn: insert_messages(conn, messages))

    async def edit_message(
        self,
        session_id: str,
        seq: int,
        content: str,
        *,
        by: str,
        at: datetime,
        extra: Sequence[ops.Op] = (),
    ) -> Message:
        """Replace a message's text, keeping the old text as the next revision."""

        def unit(conn: sqlite3.Connection) -> Message:
            current = self._live(conn, session_id, seq)
            (number,) = conn.execute(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM message_revisions WHERE message_id = ?",
                (current.id,),
            ).fetchone()
            written = current.edited_at or current.created_at
            conn.execute(
                "INSERT INTO message_revisions (message_id, revision, content, written_at,"
                " replaced_at, replaced_by) VALUES (?, ?, ?, ?, ?, ?)",
                (current.id, number, current.content, ts(written), ts(at), by),
            )
            conn.execute(
                "UPDATE messages SET content = ?, edited_at = ? WHERE id = ?",
                (content, ts(at), current.id),
            )
            apply_all(conn, extra)
            return dataclasses.replace(current, content=content, edited_at=at)

        return await self.engine.write(unit)

    async def delete_message(
        self, session_id: str, seq: int, *, by: str, at: datetime, extra: Sequence[ops.Op] = ()
    ) -> Message:
        """Leave a tombstone: text and revisions gone (and out of search), seq kept."""

        def unit(conn: sqlite3.Connection) -> Message:
            current = self._live(conn, session_id, seq)
            conn.execute("DELETE FROM message_revisions WHERE message_id = ?", (current.id,))
            conn.execute(
                "UPDATE messages SET content = '', deleted_at = ?, deleted_by = ? WHERE id = ?",
                (ts(at), by, current.id),
            )
            apply_all(conn, extra)
            return dataclasses.replace(current, content="", deleted_at=at, deleted_by=by)

        return await self.engine.write(unit)

    @staticmethod
    def _live(conn: sqlite3.Connection, session_id: str, seq: int) -> Message:
        row = conn.execute(f"{_M} WHERE session_id = ? AND seq = ?", (session_id, seq)).fetchone()
        if row is None:
            raise NotFound("message", str(seq))
        if row["deleted_at"] is not None:
            raise Conflict(f"Message {seq} was deleted.")
        return _message(row)

    # -- messages: reads ---------------------------------------------------------------------

    async def message(
        self, session_id: str, *, seq: int | None = None, message_id: str | None = None
    ) -> Message | None:
        """One message by seq or id, with its revisions."""
        if seq is not None:
            row = await self.engine.fetchone(
                f"{_M} WHERE session_id = ? AND seq = ?", (session_id, seq)
            )
        else:
            row = await self.engine.fetchone(
                f"{_M} WHERE session_id = ? AND id = ?", (session_id, message_id)
            )
        if row is None:
            return None
        found = _message(row)
        found.revisions = (await self.revisions([found.id])).get(found.id, [])
        return found

    async def revisions(self, message_ids: Sequence[str]) -> dict[str, list[Revision]]:
        if not message_ids:
            return {}
        marks = ", ".join("?" * len(message_ids))
        found = await self.engine.fetchall(
            f"SELECT * FROM message_revisions WHERE message_id IN ({marks})"
            " ORDER BY message_id, revision",
            tuple(message_ids),
        )
        by_message: dict[str, list[Revision]] = {}
        for r in found:
            by_message.setdefault(r["message_id"], []).append(_revision(r))
        return by_message

    async def messages_before(
        self, session_id: str, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Newest first, strictly older than `before_seq` (the cursor) when given."""
        found = await self.engine.fetchall(
            f"{_M} WHERE session_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (session_id, before_seq if before_seq is not None else 1 << 62, limit),
        )
        return [_message(r) for r in found]

    async def messages_after(self, session_id: str, *, after_seq: int, limit: int) -> list[Message]:
        """Oldest first, strictly newer than `after_seq` (for export and copying)."""
        found = await self.engine.fetchall(
            f"{_M} WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session_id, after_seq, limit),
        )
        return [_message(r) for r in found]

    async def thread(self, session_id: str, message_id: str) -> list[Message]:
        """A message and every reply under it, in seq order."""
        found = await self.engine.fetchall(
            "WITH RECURSIVE t(id) AS (SELECT id FROM messages WHERE id = ? AND session_id = ?"
            " UNION SELECT m.id FROM messages m JOIN t ON m.parent_id = t.id)"
            f" {_M} WHERE id IN (SELECT id FROM t) ORDER BY seq",
            (message_id, session_id),
        )
        return [_message(r) for r in found]

    async def last_seq(self, session_id: str) -> int:
        """The seq of the newest message (0 when there is none); one index probe."""
        row = await self.engine.fetchone(
            "SELECT MAX(seq) FROM messages WHERE session_id = ?", (session_id,)
        )
        return int(row[0] or 0) if row else 0

    async def message_counts(self, session_id: str) -> tuple[int, int]:
        """(last seq, deleted count) of a session."""
        row = await self.engine.fetchone(
            "SELECT COALESCE(MAX(seq), 0), COUNT(deleted_at) FROM messages WHERE session_id = ?",
            (session_id,),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def role_counts(self, session_id: str) -> dict[str, int]:
        found = await self.engine.fetchall(
            "SELECT role, COUNT(*) FROM messages WHERE session_id = ? AND deleted_at IS NULL"
            " GROUP BY role",
            (session_id,),
        )
        return {r[0]: int(r[1]) for r in found}

    # -- search ------------------------------------------------------------------------------

    async def search_messages(
        self,
        workspace: str,
        query: Query,
        *,
        session_id: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Ranked (bm25) matches of a query tree, only in `workspace`."""
        expression = to_fts5(query)
        where, args = "s.workspace = ?", [workspace]
        # Workspace-wide, order by `rank` alone: FTS5 sorts inside its scan and snippets only
        # the rows returned. In one session, bm25() lets SQLite drop other sessions' matches
        # before ranking, which is cheaper than ranking every match in the workspace.
        order = "messages_fts.rank"
        if session_id is not None:
            where += " AND m.session_id = ?"
            args.append(session_id)
            order = "bm25(messages_fts)"
        sql = (
            "SELECT m.id, m.session_id, m.seq, m.role, m.author_id, m.created_at, s.ref, s.title,"
            f" snippet(messages_fts, 0, '{MATCH_START}', '{MATCH_END}', '…', 16) AS snip"
            " FROM messages_fts JOIN messages m ON m.message_no = messages_fts.rowid"
            " JOIN sessions s ON s.id = m.session_id"
            f" WHERE messages_fts MATCH ? AND {where}"
            f" ORDER BY {order} LIMIT ? OFFSET ?"
        )
        try:
            found = await self.engine.fetchall(sql, (expression, *args, limit, offset))
        except StoreError as exc:
            if "fts5" in str(exc.__cause__):
                raise UsageError("That search query is not valid.") from exc
            raise
        return [
            SearchHit(
                session_id=r["session_id"],
                session_ref=r["ref"],
                session_title=r["title"],
                message_id=r["id"],
                seq=r["seq"],
                role=_ROLE[r["role"]],
                author_id=r["author_id"],
                created_at=parse_ts_required(r["created_at"]),
                snippet=r["snip"],
            )
            for r in found
        ]

    # -- context -----------------------------------------------------------------------------

    async def context_expiry(self, session_id: str) -> dict[str, datetime]:
        found = await self.engine.fetchall(
            "SELECT key, expires_at FROM context_expiry WHERE session_id = ?", (session_id,)
        )
        return {r[0]: parse_ts_required(r[1]) for r in found}

    async def merge_context(
        self, session_id: str, merge: ContextMerge, *, now: datetime, extra: Sequence[ops.Op] = ()
    ) -> tuple[JSON, dict[str, datetime]]:
        """Read, merge (core's `merge`) and write the context in one transaction, so concurrent
        updates never lose each other; returns the new context and its key expiries."""

        def unit(conn: sqlite3.Connection) -> tuple[JSON, dict[str, datetime]]:
            row = conn.execute(
                "SELECT context, status FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise NotFound("session", session_id)
            expiry = {
                k: parse_ts_required(v)
                for k, v in conn.execute(
                    "SELECT key, expires_at FROM context_expiry WHERE session_id = ?",
                    (session_id,),
                )
            }
            context, changes = merge(stored_context(row[0], session_id), expiry, row[1])
            conn.execute(
                "UPDATE sessions SET context = ?, updated_at = ?, version = version + 1"
                " WHERE id = ?",
                (dumps(context), ts(now), session_id),
            )
            _put_expiry(conn, session_id, dict(changes))
            apply_all(conn, extra)
            final = {**expiry, **changes}
            return context, {k: v for k, v in final.items() if v is not None and k in context}

        return await self.engine.write(unit)

    async def purge_expired_context(self, now: datetime) -> int:
        """Remove every context key past its TTL (maintenance); returns how many went."""

        def unit(conn: sqlite3.Connection) -> int:
            due = conn.execute(
                "SELECT e.session_id, e.key, s.context FROM context_expiry e"
                " JOIN sessions s ON s.id = e.session_id WHERE e.expires_at <= ?",
                (ts(now),),
            ).fetchall()
            contexts, done = expired_contexts(due)
            for session_id, context in contexts.items():
                conn.execute(
                    "UPDATE sessions SET context = ?, version = version + 1 WHERE id = ?",
                    (dumps(context), session_id),
                )
            conn.executemany("DELETE FROM context_expiry WHERE session_id = ? AND key = ?", done)
            return len(done)

        return await self.engine.write(unit)

    # -- whole-session reads (export) --------------------------------------------------------

    # -- whole-session writes (fork, import) -------------------------------------------------

    async def fork_session(
        self, workspace: str, build: Build, *, parent_id: str, child_id: str, up_to_seq: int
    ) -> int:
        """Allocate a ref, apply `build(ref)` (which creates the child) and copy the parent's
        history up to `up_to_seq`, all in one transaction; returns the child's ref."""

        def unit(conn: sqlite3.Connection) -> int:
            ref = allocate_ref(conn, ops.AllocateRef(workspace))
            apply_all(conn, build(ref))
            _copy_history(conn, parent_id, child_id, up_to_seq)
            return ref

        return await self.engine.write(unit)

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
        """Recreate a whole session in one transaction (all or nothing); returns its new ref."""

        def unit(conn: sqlite3.Connection) -> int:
            ref = allocate_ref(conn, ops.AllocateRef(session.workspace))
            apply_all(conn, build(ref))
            for plan in plans:
                _insert_plan(conn, plan)
            for modification in modifications:
                add_modification(conn, ops.AddModification(modification))
            insert_messages(conn, messages)
            _insert_events(conn, events)
            _put_expiry(conn, session.id, dict(expiry))
            return ref

        return await self.engine.write(unit)

    async def ids_in_use(
        self, *, session_ids: Sequence[str], plan_ids: Sequence[str], message_ids: Sequence[str]
    ) -> bool:
        """Whether any of these ids already names a row (an import then takes new ids)."""
        for table, ids in (
            ("sessions", session_ids),
            ("plans", plan_ids),
            ("messages", message_ids),
        ):
            for start in range(0, len(ids), 500):
                chunk = tuple(ids[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT 1 FROM {table} WHERE id IN ({marks}) LIMIT 1"
                if await self.engine.fetchone(sql, chunk):
                    return True
        return False
