"""Plans with their items, approvals and chat messages, and the modifications asked of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, TypeVar

from core.models import Member, Plan, PlanModification, Session
from core.store.codec import loads, when_required
from core.store.db import Database, Dialect
from core.store.decode import Decoder, aliased, as_json_values, rows
from core.store.sessions import members_in_order, ref_column, with_session

T = TypeVar("T")


_ITEMS = as_json_values(rows.plan_item, text=("comments",))
_APPROVALS, _MESSAGES = as_json_values(rows.approval), as_json_values(rows.plan_message)
_MEMBERS = as_json_values(rows.member)


@lru_cache(maxsize=4)
def plan_select(dialect: Dialect, *, alias: str = "plans") -> str:
    """The plan columns of `alias` and, after them, its items, approvals and chat messages,
    each as one JSON array (`plan_of` reads them): a whole plan in one query."""

    def of(decode: Decoder[Any], columns: str) -> str:
        return dialect.rows_of(columns, f"FROM {decode.table} WHERE plan_id = {alias}.id")

    own = aliased(rows.plan, alias)
    return ", ".join(
        (own, of(rows.plan_item, _ITEMS), of(rows.approval, _APPROVALS),
         of(rows.plan_message, _MESSAGES))
    )  # fmt: skip


@lru_cache(maxsize=8)
def _shown_sql(dialect: Dialect, by: str) -> str:
    """`Plans.shown`'s query: a session found by `by` (ref or id), its members as one JSON
    array, and its latest plan (all NULL when it has none)."""
    members = dialect.rows_of(_MEMBERS, "FROM members WHERE session_id = s.id")
    return (
        f"SELECT {aliased(rows.session, 's')}, {members}, {plan_select(dialect, alias='p')}"
        " FROM sessions s LEFT JOIN plans p ON p.id = (SELECT id FROM plans"
        " WHERE session_id = s.id ORDER BY version DESC LIMIT 1)"
        f" WHERE s.workspace = ? AND s.{by} = ?"
    )


def plan_of(row: Sequence[Any]) -> Plan:
    """A plan from a row selected with `plan_select` (from its first column)."""
    plan = rows.plan(row)
    items, approvals, messages = (loads(v) or [] for v in row[rows.plan.width :][:3])
    plan.items = sorted(map(rows.plan_item, items), key=attrgetter("position"))
    plan.approvals = sorted(map(rows.approval, approvals), key=attrgetter("at", "user_id"))
    plan.messages = sorted(
        map(rows.plan_message, messages), key=attrgetter("platform", "channel_id", "message_ref")
    )
    return plan


class Plans:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _plan(self) -> str:
        return f"SELECT {plan_select(self.db.dialect)} FROM plans"

    async def current(self, session_id: str) -> Plan | None:
        """The session's latest plan, whatever its status."""
        found = await self.db.fetchone(
            f"{self._plan} WHERE session_id = ? ORDER BY version DESC LIMIT 1", (session_id,)
        )
        return plan_of(found) if found else None

    async def get(self, plan_id: str) -> Plan | None:
        found = await self.db.fetchone(f"{self._plan} WHERE id = ?", (plan_id,))
        return plan_of(found) if found else None

    async def of_session(self, session_id: str) -> list[Plan]:
        """Every plan version of a session, oldest first, with items and approvals."""
        found = await self.db.fetchall(
            f"{self._plan} WHERE session_id = ? ORDER BY version", (session_id,)
        )
        return [plan_of(r) for r in found]

    async def with_session(self, plan_id: str) -> tuple[Session, Plan] | None:
        """A plan and its session, read together (one query: one snapshot of both)."""
        select = plan_select(self.db.dialect, alias="r")
        return await with_session(self.db, select, "plans", plan_id, plan_of)

    async def shown(
        self, workspace: str, ref: str
    ) -> tuple[Session, list[Member], Plan | None] | None:
        """A session of `workspace` (by ref number or full id) with its members and its latest
        plan, read in one query: one snapshot of the three, as `/session show` shows them."""
        by, key = ref_column(ref)
        found = await self.db.fetchone(_shown_sql(self.db.dialect, by), (workspace, key))
        if found is None:
            return None
        values, width = list(found), rows.session.width
        shown = members_in_order(map(rows.member, loads(values[width]) or []))
        plan = plan_of(values[width + 1 :]) if values[width + 1] is not None else None
        return rows.session(values[:width]), shown, plan

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
