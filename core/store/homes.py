"""The Slack App Home's store side: who opened it, their sessions, and the coalesced
republish rows a change enqueues for the people it concerns (see core/home.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.models import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    Session,
    new_id,
)
from core.store import ops
from core.store.codec import sql_in, when_required
from core.store.db import Database, Tx, marks
from core.store.decode import SESSION_COLUMNS, rows

# A viewer's Home is republished at most once per window: every change in a window shares one
# outbox row (its dedupe key names the window), delivered when the window ends.
WINDOW = timedelta(seconds=2)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MINE = (
    "workspace = ? AND (owner_id = ? OR id IN (SELECT session_id FROM members WHERE user_id = ?))"
)


def home_row(workspace: str, user_id: str, now: datetime) -> OutboxRow:
    """The republish of `user_id`'s Home for the window holding `now`, due when it ends."""
    window = int((now - _EPOCH) / WINDOW)
    return OutboxRow(
        id=new_id(),
        workspace=workspace,
        kind=OutboxKind.HOME,
        target={"user_id": user_id},
        payload={"kind": "home", "title": ""},  # an empty View: the Home is built when delivered
        dedupe_key=f"home:{workspace}:{user_id}:{window}",
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=_EPOCH + WINDOW * (window + 1),
        created_at=now,
    )


async def refresh_rows(tx: Tx, unit: Sequence[ops.Op]) -> list[OutboxRow]:
    """The Home republishes a unit calls for: one per viewer who owns, is a member of, may
    decide in (an admin, a named approver) a session whose audit event the unit adds."""
    events = [op.event for op in unit if isinstance(op, ops.AddEvent)]
    if not events:
        return []
    session_ids = sorted({e.session_id for e in events})
    named = sorted(
        {u for op in unit if isinstance(op, ops.NewRequest) for u in op.request.approvers}
    )
    either = f" OR h.user_id IN ({marks(len(named))})" if named else ""
    found = await tx.fetchall(
        "SELECT DISTINCT h.workspace, h.user_id FROM sessions s"
        " JOIN home_viewers h ON h.workspace = s.workspace"
        f" WHERE s.id IN ({marks(len(session_ids))}) AND (h.user_id = s.owner_id OR h.admin = ?"
        " OR EXISTS (SELECT 1 FROM members m WHERE m.session_id = s.id AND m.user_id = h.user_id)"
        f"{either})",
        (*session_ids, True, *named),
    )
    now = events[0].created_at
    return [home_row(str(r[0]), str(r[1]), now) for r in found]


class Homes:
    """Home viewers and the sessions a Home lists."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def opened(self, workspace: str, user_id: str, *, admin: bool, at: datetime) -> None:
        """Record (again) that `user_id` opened their Home: from now on changes republish it."""
        await self.db.write(
            lambda tx: tx.execute(
                "INSERT INTO home_viewers (workspace, user_id, admin, opened_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (workspace, user_id)"
                " DO UPDATE SET admin = excluded.admin, opened_at = excluded.opened_at",
                (workspace, user_id, admin, at),
            ),
            notify=False,
        )

    async def viewer(self, workspace: str, user_id: str) -> tuple[bool, datetime] | None:
        """Whether the viewer was a platform admin when they last opened their Home, and
        when that was; None for someone who never opened it."""
        row = await self.db.fetchone(
            "SELECT admin, opened_at FROM home_viewers WHERE workspace = ? AND user_id = ?",
            (workspace, user_id),
        )
        return None if row is None else (bool(row[0]), when_required(row[1]))

    async def sessions(
        self, workspace: str, user_id: str, *, open_: bool, limit: int
    ) -> list[Session]:
        """The open (or ended, not archived) sessions `user_id` owns or is a member of, the
        most recently active first."""
        statuses = sql_in(OPEN_STATUSES if open_ else ENDED_STATUSES)
        found = await self.db.fetchall(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {_MINE} AND status IN {statuses}"
            " ORDER BY last_activity_at DESC LIMIT ?",
            (workspace, user_id, user_id, limit),
        )
        return [rows.session(r) for r in found]
