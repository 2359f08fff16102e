"""PostgreSQL queries of the history feature (messages, tsvector search, context, fork, import)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from asyncpg import Connection, Record

from core.errors import Conflict, NotFound
from core.models import JSON, OPEN_STATUSES, Event, Plan, PlanModification, Session, new_id
from core.records.history import MATCH_END, MATCH_START, Message, MessageRole, Revision, SearchHit
from core.records.search import Query
from core.store import ops
from core.store.codec import dumps
from core.store.decode import expired_contexts, stored_context, stored_json
from core.store.postgres.engine import PgEngine
from core.store.postgres.search import to_tsquery
from core.store.postgres.writes import (
    add_modification,
    allocate_ref,
    apply_all,
    session_facts,
    touch,
)

_ROLE = {r.value: r for r in MessageRole}
_M = (
    "SELECT id, session_id, seq, role, author_id, content, parent_id, metadata, created_at,"
    " edited_at, deleted_at, deleted_by FROM messages"
)
# ts_headline: one fragment of at most 16 words (FTS5's snippet length), short words kept.
_HEADLINE = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=16, MinWords=8, ShortWord=0,"
    " HighlightAll=false"
)
_ELLIPSIS = "…"
_ADJACENT = re.compile(
    f"{MATCH_START}([^{MATCH_END}]+){MATCH_END}(\\s+){MATCH_START}([^{MATCH_END}]+){MATCH_END}"
)

Build = Callable[[int], Sequence[ops.Op]]
ContextMerge = Callable[[JSON, dict[str, datetime], str], tuple[JSON, dict[str, datetime | None]]]


def _message(row: Record) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        seq=row["seq"],
        role=_ROLE[row["role"]],
        author_id=row["author_id"],
        content=row["content"],
        parent_id=row["parent_id"],
        metadata=stored_json(row["metadata"], "messages", row["id"]),
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        deleted_at=row["deleted_at"],
        deleted_by=row["deleted_by"],
    )


def _revision(row: Record) -> Revision:
    return Revision(
        message_id=row["message_id"],
        revision=row["revision"],
        content=row["content"],
        written_at=row["written_at"],
        replaced_at=row["replaced_at"],
        replaced_by=row["replaced_by"],
    )


def _snippet(headline: str, content: str, pairs: frozenset[tuple[str, str]]) -> str:
    """FTS5's snippet shape: a phrase is one marked run, and `…` shows where text was cut."""

    def join(match: re.Match[str]) -> str:
        before, gap, after = match.group(1), match.group(2), match.group(3)
        last, first = before.split()[-1].lower(), after.split()[0].lower()
        if (last, first) in pairs:
            return f"{MATCH_START}{before}{gap}{after}{MATCH_END}"
        return match.group(0)

    snippet = headline
    while True:  # merge runs pairwise until no adjacent pair of a phrase is left apart
        merged = _ADJACENT.sub(join, snippet)
        if merged == snippet:
            break
        snippet = merged
    plain = snippet.replace(MATCH_START, "").replace(MATCH_END, "").strip()
    text = content.strip()
    if plain and not text.startswith(plain[:20]):
        snippet = _ELLIPSIS + snippet
    if plain and not text.endswith(plain[-20:]):
        snippet += _ELLIPSIS
    return snippet


async def insert_messages(conn: Connection, messages: Sequence[Message]) -> None:
    """Insert messages with their seq and revisions as given (import, fork, bulk load)."""
    await conn.executemany(
        "INSERT INTO messages (id, session_id, seq, role, author_id, content, parent_id,"
        " metadata, created_at, edited_at, deleted_at, deleted_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        [
            (m.id, m.session_id, m.seq, m.role.value, m.author_id, m.content, m.parent_id,
             dumps(m.metadata), m.created_at, m.edited_at, m.deleted_at, m.deleted_by)
            for m in messages
        ],
    )  # fmt: skip
    revisions = [
        (r.message_id, r.revision, r.content, r.written_at, r.replaced_at, r.replaced_by)
        for m in messages
        for r in m.revisions
    ]
    if revisions:
        await conn.executemany(
            "INSERT INTO message_revisions (message_id, revision, content, written_at,"
            " replaced_at, replaced_by) VALUES ($1, $2, $3, $4, $5, $6)",
            revisions,
        )


async def _insert_plan(conn: Connection, p: Plan) -> None:
    await conn.execute(
        "INSERT INTO plans (id, session_id, version, status, content_hash, required_approvals,"
        " submitted_by, submitted_at, decided_at, decided_by, decision_reason, expires_at,"
        " superseded_by, superseded_at, row_version)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        p.id, p.session_id, p.version, p.status.value, p.content_hash, p.required_approvals,
        p.submitted_by, p.submitted_at, p.decided_at, p.decided_by, p.decision_reason,
        p.expires_at, p.superseded_by, p.superseded_at, p.row_version,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO plan_items (plan_id, position, title, assignee, status, ticket, comments)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(p.id, i.position, i.title, i.assignee, i.status.value, i.ticket, dumps(i.comments))
         for i in p.items],
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO approvals (plan_id, user_id, decision, content_hash, reason, at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(a.plan_id, a.user_id, a.decision.value, a.content_hash, a.reason, a.at)
         for a in p.approvals],
    )  # fmt: skip


async def _insert_events(conn: Connection, events: Sequence[Event]) -> None:
    await conn.executemany(
        "INSERT INTO events (id, session_id, seq, type, actor_id, source, data, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(e.id, e.session_id, e.seq, e.type.value, e.actor_id, e.source.value, dumps(e.data),
          e.created_at) for e in events],
    )  # fmt: skip


async def _put_expiry(conn: Connection, session_id: str, expiry: dict[str, Any]) -> None:
    for key, when in expiry.items():
        if when is None:
            await conn.execute(
                "DELETE FROM context_expiry WHERE session_id = $1 AND key = $2", session_id, key
            )
        else:
            await conn.execute(
                "INSERT INTO context_expiry (session_id, key, expires_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (session_id, key) DO UPDATE SET expires_at = excluded.expires_at",
                session_id, key, when,
            )  # fmt: skip


async def _copy_history(conn: Connection, parent_id: str, child_id: str, up_to: int) -> None:
    """Copy the parent's messages up to seq `up_to` (with revisions) under fresh ids."""
    found = [
        _message(r)
        for r in await conn.fetch(
            f"{_M} WHERE session_id = $1 AND seq <= $2 ORDER BY seq", parent_id, up_to
        )
    ]
    new_ids = {m.id: new_id() for m in found}
    revisions: dict[str, list[Revision]] = {}
    for r in await conn.fetch(
        "SELECT r.* FROM message_revisions r JOIN messages m ON m.id = r.message_id"
        " WHERE m.session_id = $1 AND m.seq <= $2 ORDER BY r.message_id, r.revision",
        parent_id, up_to,
    ):  # fmt: skip
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
    await insert_messages(conn, copies)
    await conn.execute(
        "INSERT INTO context_expiry (session_id, key, expires_at)"
        " SELECT $1, key, expires_at FROM context_expiry WHERE session_id = $2",
        child_id, parent_id,
    )  # fmt: skip


async def _live(conn: Connection, session_id: str, seq: int) -> Message:
    """The message at `seq`, locked until commit (edits of one message queue up)."""
    row = await conn.fetchrow(
        f"{_M} WHERE session_id = $1 AND seq = $2 FOR UPDATE", session_id, seq
    )
    if row is None:
        raise NotFound("message", str(seq))
    if row["deleted_at"] is not None:
        raise Conflict(f"Message {seq} was deleted.")
    return _message(row)


class PgHistory:
    """Message, search and context queries; `engine` is provided by PostgresStore."""

    engine: PgEngine

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
        """Append to the session `ref` names after `check` approves, in one transaction.

        The session row stays locked until commit, so the next seq is gap-free and unique
        even with several replicas appending to one session.
        """

        async def unit(conn: Connection) -> Message:
            facts = await session_facts(conn, workspace, ref, draft.author_id)
            check(facts)
            if draft.parent_id is not None and not await conn.fetchval(
                "SELECT 1 FROM messages WHERE id = $1 AND session_id = $2",
                draft.parent_id, facts.session_id,
            ):  # fmt: skip
                raise NotFound("message", f"{draft.parent_id} in session #{facts.ref}")
            seq = await conn.fetchval(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = $1",
                facts.session_id,
            )
            message = dataclasses.replace(draft, session_id=facts.session_id, seq=int(seq))
            await insert_messages(conn, [message])
            now = draft.created_at
            if now - facts.last_activity_at >= touch_after:
                deadline = now + abandon_after if facts.status in OPEN_STATUSES else None
                await touch(conn, ops.Touch(facts.session_id, now, deadline))
            return message

        return await self.engine.write(unit)

    async def insert_messages(self, messages: Sequence[Message]) -> None:
        """Bulk insert with explicit seqs in one transaction (import and corpus loading)."""

        async def unit(conn: Connection) -> None:
            await insert_messages(conn, messages)

        await self.engine.write(unit)

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

        async def unit(conn: Connection) -> Message:
            current = await _live(conn, session_id, seq)
            number = await conn.fetchval(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM message_revisions"
                " WHERE message_id = $1",
                current.id,
            )
            await conn.execute(
                "INSERT INTO message_revisions (message_id, revision, content, written_at,"
                " replaced_at, replaced_by) VALUES ($1, $2, $3, $4, $5, $6)",
                current.id, number, current.content, current.edited_at or current.created_at,
                at, by,
            )  # fmt: skip
            await conn.execute(
                "UPDATE messages SET content = $1, edited_at = $2 WHERE id = $3",
                content, at, current.id,
            )  # fmt: skip
            await apply_all(conn, extra)
            return dataclasses.replace(current, content=content, edited_at=at)

        return await self.engine.write(unit)

    async def delete_message(
        self, session_id: str, seq: int, *, by: str, at: datetime, extra: Sequence[ops.Op] = ()
    ) -> Message:
        """Leave a tombstone: text and revisions gone (and out of search), seq kept."""

        async def unit(conn: Connection) -> Message:
            current = await _live(conn, session_id, seq)
            await conn.execute("DELETE FROM message_revisions WHERE message_id = $1", current.id)
            await conn.execute(
                "UPDATE messages SET content = '', deleted_at = $1, deleted_by = $2 WHERE id = $3",
                at, by, current.id,
            )  # fmt: skip
            await apply_all(conn, extra)
            return dataclasses.replace(current, content="", deleted_at=at, deleted_by=by)

        return await self.engine.write(unit)

    # -- messages: reads ---------------------------------------------------------------------

    async def message(
        self, session_id: str, *, seq: int | None = None, message_id: str | None = None
    ) -> Message | None:
        """One message by seq or id, with its revisions."""
        if seq is not None:
            row = await self.engine.fetchone(
                f"{_M} WHERE session_id = $1 AND seq = $2", (session_id, seq)
            )
        else:
            row = await self.engine.fetchone(
                f"{_M} WHERE session_id = $1 AND id = $2", (session_id, message_id)
            )
        if row is None:
            return None
        found = _message(row)
        found.revisions = (await self.revisions([found.id])).get(found.id, [])
        return found

    async def revisions(self, message_ids: Sequence[str]) -> dict[str, list[Revision]]:
        if not message_ids:
            return {}
        found = await self.engine.fetchall(
            "SELECT * FROM message_revisions WHERE message_id = ANY($1::text[])"
            " ORDER BY message_id, revision",
            (list(message_ids),),
        )
        by_message: dict[str, list[Revision]] = {}
        for r in found:
            by_message.setdefault(r["message_id"], []).append(_revision(r))
        return by_message

    async def messages_before(
        self, session_id: str, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Newest first, strictly older than `before_seq` (the cursor) when given."""
        if before_seq is None:
            found = await self.engine.fetchall(
                f"{_M} WHERE session_id = $1 ORDER BY seq DESC LIMIT $2", (session_id, limit)
            )
        else:
            found = await self.engine.fetchall(
                f"{_M} WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                (session_id, before_seq, limit),
            )
        return [_message(r) for r in found]

    async def messages_after(self, session_id: str, *, after_seq: int, limit: int) -> list[Message]:
        """Oldest first, strictly newer than `after_seq` (for export and copying)."""
        found = await self.engine.fetchall(
            f"{_M} WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            (session_id, after_seq, limit),
        )
        return [_message(r) for r in found]

    async def thread(self, session_id: str, message_id: str) -> list[Message]:
        """A message and every reply under it, in seq order."""
        found = await self.engine.fetchall(
            "WITH RECURSIVE t(id) AS (SELECT id FROM messages WHERE id = $1 AND session_id = $2"
            " UNION SELECT m.id FROM messages m JOIN t ON m.parent_id = t.id)"
            f" {_M} WHERE id IN (SELECT id FROM t) ORDER BY seq",
            (message_id, session_id),
        )
        return [_message(r) for r in found]

    async def last_seq(self, session_id: str) -> int:
        """The seq of the newest message (0 when there is none); one index probe."""
        row = await self.engine.fetchone(
            "SELECT MAX(seq) FROM messages WHERE session_id = $1", (session_id,)
        )
        return int(row[0] or 0) if row else 0

    async def message_counts(self, session_id: str) -> tuple[int, int]:
        """(last seq, deleted count) of a session."""
        row = await self.engine.fetchone(
            "SELECT COALESCE(MAX(seq), 0), COUNT(deleted_at) FROM messages WHERE session_id = $1",
            (session_id,),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def role_counts(self, session_id: str) -> dict[str, int]:
        found = await self.engine.fetchall(
            "SELECT role, COUNT(*) FROM messages WHERE session_id = $1 AND deleted_at IS NULL"
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
        """Ranked (ts_rank) matches of a query tree, only in `workspace`.

        The GIN index finds the matches; the headline (the costly part) is made only for the
        page of rows returned.
        """
        tsquery = to_tsquery(query)
        args: list[Any] = [tsquery.text, workspace, limit, offset]
        where = "s.workspace = $2"
        if session_id is not None:
            args.append(session_id)
            where += " AND m.session_id = $5"
        args.append(_HEADLINE)
        headline = f"${len(args)}"
        found = await self.engine.fetchall(
            "SELECT hit.*, ts_headline('sessionbot_search', hit.content, hit.q,"
            f" {headline}) AS snip FROM (SELECT m.message_no, m.id, m.session_id, m.seq, m.role,"
            " m.author_id, m.created_at, m.content, s.ref, s.title, q.q,"
            " ts_rank(m.search, q.q, 1) AS rank"
            " FROM to_tsquery('sessionbot_search', $1) AS q (q)"
            " JOIN messages m ON m.search @@ q.q JOIN sessions s ON s.id = m.session_id"
            f" WHERE {where} ORDER BY rank DESC, m.message_no DESC LIMIT $3 OFFSET $4) hit"
            " ORDER BY hit.rank DESC, hit.message_no DESC",
            args,
        )
        return [
            SearchHit(
                session_id=r["session_id"],
                session_ref=r["ref"],
                session_title=r["title"],
                message_id=r["id"],
                seq=r["seq"],
                role=_ROLE[r["role"]],
                author_id=r["author_id"],
                created_at=r["created_at"],
                snippet=_snippet(r["snip"], r["content"], tsquery.phrase_pairs),
            )
            for r in found
        ]

    # -- context -----------------------------------------------------------------------------

    async def context_expiry(self, session_id: str) -> dict[str, datetime]:
        found = await self.engine.fetchall(
            "SELECT key, expires_at FROM context_expiry WHERE session_id = $1", (session_id,)
        )
        return {r[0]: r[1] for r in found}

    async def merge_context(
        self, session_id: str, merge: ContextMerge, *, now: datetime, extra: Sequence[ops.Op] = ()
    ) -> tuple[JSON, dict[str, datetime]]:
        """Read (locked), merge (core's `merge`) and write the context in one transaction,
        so concurrent updates never lose each other; returns the context and key expiries."""

        async def unit(conn: Connection) -> tuple[JSON, dict[str, datetime]]:
            row = await conn.fetchrow(
                "SELECT context, status FROM sessions WHERE id = $1 FOR NO KEY UPDATE",
                session_id,
            )
            if row is None:
                raise NotFound("session", session_id)
            expiry: dict[str, datetime] = {
                r[0]: r[1]
                for r in await conn.fetch(
                    "SELECT key, expires_at FROM context_expiry WHERE session_id = $1",
                    session_id,
                )
            }
            context, changes = merge(stored_context(row[0], session_id), expiry, row[1])
            await conn.execute(
                "UPDATE sessions SET context = $1, updated_at = $2, version = version + 1"
                " WHERE id = $3",
                dumps(context), now, session_id,
            )  # fmt: skip
            await _put_expiry(conn, session_id, dict(changes))
            await apply_all(conn, extra)
            final = {**expiry, **changes}
            return context, {k: v for k, v in final.items() if v is not None and k in context}

        return await self.engine.write(unit)

    async def purge_expired_context(self, now: datetime) -> int:
        """Remove every context key past its TTL (maintenance); returns how many went."""

        async def unit(conn: Connection) -> int:
            due = await conn.fetch(
                "SELECT e.session_id, e.key, s.context FROM context_expiry e"
                " JOIN sessions s ON s.id = e.session_id WHERE e.expires_at <= $1"
                " ORDER BY e.session_id FOR NO KEY UPDATE OF s",
                now,
            )
            contexts, done = expired_contexts(due)
            await conn.executemany(
                "UPDATE sessions SET context = $1, version = version + 1 WHERE id = $2",
                [(dumps(context), session_id) for session_id, context in contexts.items()],
            )
            await conn.executemany(
                "DELETE FROM context_expiry WHERE session_id = $1 AND key = $2", done
            )
            return len(done)

        return await self.engine.write(unit)

    # -- whole-session reads (export) --------------------------------------------------------

    # -- whole-session writes (fork, import) -------------------------------------------------

    async def fork_session(
        self, workspace: str, build: Build, *, parent_id: str, child_id: str, up_to_seq: int
    ) -> int:
        """Allocate a ref, apply `build(ref)` (which creates the child) and copy the parent's
        history up to `up_to_seq`, all in one transaction; returns the child's ref."""

        async def unit(conn: Connection) -> int:
            ref = await allocate_ref(conn, ops.AllocateRef(workspace))
            await apply_all(conn, build(ref))
            await _copy_history(conn, parent_id, child_id, up_to_seq)
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

        async def unit(conn: Connection) -> int:
            ref = await allocate_ref(conn, ops.AllocateRef(session.workspace))
            await apply_all(conn, build(ref))
            for plan in plans:
                await _insert_plan(conn, plan)
            for modification in modifications:
                await add_modification(conn, ops.AddModification(modification))
            await insert_messages(conn, messages)
            await _insert_events(conn, events)
            await _put_expiry(conn, session.id, dict(expiry))
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
            if ids and await self.engine.fetchone(
                f"SELECT 1 FROM {table} WHERE id = ANY($1::text[]) LIMIT 1", (list(ids),)
            ):
                return True
        return False
