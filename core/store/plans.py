"""Plans with their items, approvals and chat messages, and the modifications asked of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.models import Plan, PlanMessageRef, PlanModification
from core.store.codec import when_required
from core.store.db import Database, Row
from core.store.decode import rows


class Plans:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, session_id: str) -> Plan | None:
        """The session's latest plan, whatever its status."""
        row = await self.db.fetchone(
            "SELECT * FROM plans WHERE session_id = ? ORDER BY version DESC LIMIT 1", (session_id,)
        )
        return await self._complete(row)

    async def get(self, plan_id: str) -> Plan | None:
        return await self._complete(
            await self.db.fetchone("SELECT * FROM plans WHERE id = ?", (plan_id,))
        )

    async def _complete(self, row: Row | None) -> Plan | None:
        if row is None:
            return None
        plan = rows.plan(row)
        items = await self.db.fetchall(
            "SELECT * FROM plan_items WHERE plan_id = ? ORDER BY position", (plan.id,)
        )
        plan.items = [rows.plan_item(r) for r in items]
        approvals = await self.db.fetchall(
            "SELECT * FROM approvals WHERE plan_id = ? ORDER BY at, user_id", (plan.id,)
        )
        plan.approvals = [rows.approval(r) for r in approvals]
        messages = await self.db.fetchall(
            "SELECT * FROM plan_messages WHERE plan_id = ?", (plan.id,)
        )
        plan.messages = [
            PlanMessageRef(r["platform"], r["channel_id"], r["message_ref"]) for r in messages
        ]
        return plan

    async def modifications(self, plan_id: str) -> list[PlanModification]:
        found = await self.db.fetchall(
            "SELECT * FROM plan_modifications WHERE plan_id = ?"
            f" ORDER BY created_at, {self.db.dialect.insertion_order}",
            (plan_id,),
        )
        return [rows.modification(r) for r in found]

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

    async def approval_latencies(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> list[timedelta]:
        """Submission-to-decision times of the plans a person decided in (since, until]."""
        sql = (
            "SELECT p.submitted_at, p.decided_at FROM plans p JOIN sessions s"
            " ON s.id = p.session_id WHERE s.workspace = ? AND p.decided_by IS NOT NULL"
            " AND p.decided_at > ? AND p.decided_at <= ?"
        )
        args: list[Any] = [workspace, since, until]
        if channel_id is not None:
            sql += " AND s.channel_id = ?"
            args.append(channel_id)
        found = await self.db.fetchall(sql, args)
        return [when_required(r[1]) - when_required(r[0]) for r in found]

    async def of_session(self, session_id: str) -> list[Plan]:
        """Every plan version of a session, oldest first, with items and approvals."""
        found = await self.db.fetchall(
            "SELECT * FROM plans WHERE session_id = ? ORDER BY version", (session_id,)
        )
        plans = [await self._complete(r) for r in found]
        return [p for p in plans if p is not None]

    async def modifications_of_session(self, session_id: str) -> list[PlanModification]:
        found = await self.db.fetchall(
            "SELECT * FROM plan_modifications WHERE session_id = ?"
            f" ORDER BY created_at, {self.db.dialect.insertion_order}",
            (session_id,),
        )
        return [rows.modification(r) for r in found]
