"""Plans with their items, approvals and chat messages, and the modifications asked of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.models import Plan, PlanModification
from core.store.aggregates import summary
from core.store.codec import when_required
from core.store.db import Database, Row
from core.store.decode import Decoder, rows

T = TypeVar("T")

_PLAN = f"SELECT {rows.plan.columns} FROM plans"


class Plans:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, session_id: str) -> Plan | None:
        """The session's latest plan, whatever its status."""
        found = await self.db.fetchone(
            f"{_PLAN} WHERE session_id = ? ORDER BY version DESC LIMIT 1", (session_id,)
        )
        return await self._complete(found) if found else None

    async def get(self, plan_id: str) -> Plan | None:
        found = await self.db.fetchone(f"{_PLAN} WHERE id = ?", (plan_id,))
        return await self._complete(found) if found else None

    async def of_session(self, session_id: str) -> list[Plan]:
        """Every plan version of a session, oldest first, with items and approvals."""
        found = await self.db.fetchall(
            f"{_PLAN} WHERE session_id = ? ORDER BY version", (session_id,)
        )
        return [await self._complete(r) for r in found]

    async def _complete(self, row: Row) -> Plan:
        plan = rows.plan(row)
        plan.items = await self._rows(rows.plan_item, "plan_id", plan.id, "position")
        plan.approvals = await self._rows(rows.approval, "plan_id", plan.id, "at, user_id")
        plan.messages = await self._rows(
            rows.plan_message, "plan_id", plan.id, "platform, channel_id, message_ref"
        )
        return plan

    async def modifications(self, plan_id: str) -> list[PlanModification]:
        return await self._rows(rows.modification, "plan_id", plan_id, self._oldest_first)

    async def modifications_of_session(self, session_id: str) -> list[PlanModification]:
        return await self._rows(rows.modification, "session_id", session_id, self._oldest_first)

    @property
    def _oldest_first(self) -> str:
        return f"created_at, {self.db.dialect.insertion_order}"

    async def _rows(self, decode: Decoder[T], column: str, value: str, order: str) -> list[T]:
        """The rows of `decode`'s table whose `column` is `value` (names fixed here)."""
        found = await self.db.fetchall(
            f"SELECT {decode.columns} FROM {decode.table} WHERE {column} = ? ORDER BY {order}",
            (value,),
        )
        return [decode(r) for r in found]

    async def add_message(
        self, plan_id: str, *, platform: str, channel_id: str, message_ref: str
    ) -> None:
        """Remember a chat message that shows the plan (its buttons are rebuilt there)."""
        await self.db.execute(
            "INSERT INTO plan_messages (plan_id, platform, channel_id, message_ref)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (plan_id, platform, channel_id, message_ref),
        )

    async def set_modification_result(
        self, modification_id: str, *, now: datetime, error: str | None
    ) -> None:
        await self.db.execute(
            "UPDATE plan_modifications SET processed = ?, processed_at = ?, error = ? WHERE id = ?",
            (error is None, now if error is None else None, error, modification_id),
        )

    async def approval_summary(
        self, workspace: str, *, since: datetime, until: datetime, bounds: Sequence[timedelta]
    ) -> tuple[timedelta | None, list[int]]:
        """The median approval latency of the plans a person decided in (since, until], and how
        many took under each of `bounds` (and over the last): one scan from plans_by_decision,
        the latencies coming back as seconds computed by the database."""
        scope = (
            "FROM plans p CROSS JOIN sessions s WHERE s.id = p.session_id AND s.workspace = ?"
            " AND p.decided_by IS NOT NULL AND p.decided_at > ? AND p.decided_at <= ?"
        )
        args = (workspace, since, until)
        took = self.db.dialect.seconds_between("p.submitted_at", "p.decided_at")
        found = await self.db.fetchall(f"SELECT {took} {scope}", args)
        return summary([float(r[0]) for r in found], bounds)

    async def approval_latencies(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> list[timedelta]:
        """Submission-to-decision times of the plans a person decided in (since, until]
        (from the plans decided in the window, plans_by_decision: CROSS JOIN keeps SQLite
        from reading every session of the workspace first)."""
        sql = (
            "SELECT p.submitted_at, p.decided_at FROM plans p CROSS JOIN sessions s"
            " WHERE s.id = p.session_id AND s.workspace = ? AND p.decided_by IS NOT NULL"
            " AND p.decided_at > ? AND p.decided_at <= ?"
        )
        args: list[Any] = [workspace, since, until]
        if channel_id is not None:
            sql += " AND s.channel_id = ?"
            args.append(channel_id)
        found = await self.db.fetchall(sql, args)
        return [when_required(r[1]) - when_required(r[0]) for r in found]
