"""The outbox: what to deliver, leased to one deliverer at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.models import OutboxRow
from core.store.codec import when_required
from core.store.db import Database, Tx
from core.store.decode import rows

_TOP = "\U0010ffff"  # sorts after every character (byte order on both backends)


def prefixed(column: str, prefixes: Sequence[str]) -> tuple[str, list[str]]:
    """A condition true when `column` starts with one of `prefixes` (no LIKE wildcards)."""
    if not prefixes:
        return "FALSE", []
    sql = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in prefixes)
    return f"({sql})", [bound for p in prefixes for bound in (p, p + _TOP)]


async def lease(
    tx: Tx, *, now: datetime, until: datetime, limit: int, where: str, args: Sequence[Any] = ()
) -> list[OutboxRow]:
    """Lease up to `limit` due rows matching `where`, oldest due first.

    A committed lease hides a row until it runs out. On PostgreSQL the rows another replica
    is leasing at this moment are skipped (SKIP LOCKED) rather than waited for, so two
    replicas never hold the same row; MATERIALIZED makes the locking subquery run once (as a
    plain subquery the planner may evaluate it again and lease more than `limit` rows).
    """
    order = tx.dialect.insertion_order
    found = await tx.fetchall(
        "WITH due AS MATERIALIZED (SELECT id FROM outbox WHERE status = 'pending'"
        " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
        f" AND {where} ORDER BY next_attempt_at, {order} LIMIT ?{tx.dialect.skip_locked})"
        f" UPDATE outbox SET claimed_until = ? WHERE id IN (SELECT id FROM due)"
        f" RETURNING {rows.outbox.columns}, {order} AS lease_order",
        (now, now, *args, limit, until),
    )
    found.sort(key=lambda r: (when_required(r["next_attempt_at"]), r["lease_order"]))
    return [rows.outbox(r) for r in found]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, *, workspaces: Sequence[str], now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]:
        """Lease up to `limit` due chat rows (webhook rows: `Webhooks.claim_rows`) whose
        workspace starts with one of `workspaces`."""
        condition, args = prefixed("workspace", workspaces)
        where, until = f"kind <> 'webhook' AND {condition}", now + lease
        return await self.db.write(
            lambda tx: _lease(tx, now=now, until=until, limit=limit, where=where, args=args),
            notify=False,  # a lease adds nothing to deliver
        )

    async def delivered(self, row_id: str, *, now: datetime, result_ref: str | None) -> None:
        await self.record([Delivered(row_id, now, result_ref)])

    async def failed(
        self, row_id: str, *, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        await self.record([Failed(row_id, error, next_attempt_at, dead)])

    async def record(self, results: Sequence[Delivered | Failed]) -> None:
        """The results of leased rows, in one commit (none: no commit)."""
        delivered = [(r.at, r.result_ref, r.row_id) for r in results if isinstance(r, Delivered)]
        failed = [
            ("dead" if r.dead else "pending", r.error[:1000], r.next_attempt_at, r.row_id)
            for r in results
            if isinstance(r, Failed)
        ]
        if results:
            # a retry is due later (the poll finds it): nothing here wakes the outbox
            await self.db.write(lambda tx: _record(tx, delivered, failed), notify=False)

    async def counts(self) -> dict[str, int]:
        found = await self.db.fetchall(
            "SELECT status, COUNT(*) FROM outbox WHERE status <> 'delivered' GROUP BY status"
        )
        return {"pending": 0, "dead": 0} | {r[0]: r[1] for r in found}

    async def pending_by_workspace(self) -> dict[str, int]:
        """Chat notices still to deliver, per workspace (see core/waiting.py); webhook rows go
        out whatever the platform."""
        found = await self.db.fetchall(
            "SELECT workspace, COUNT(*) FROM outbox WHERE status = 'pending'"
            " AND kind <> 'webhook' GROUP BY workspace"
        )
        return {str(r[0]): int(r[1]) for r in found}

    async def rows(self, *, session_id: str) -> list[OutboxRow]:
        found = await self.db.fetchall(
            f"SELECT {rows.outbox.columns} FROM outbox WHERE session_id = ?"
            f" ORDER BY {self.db.dialect.insertion_order}",
            (session_id,),
        )
        return [rows.outbox(r) for r in found]

    async def is_pending(self, dedupe_key: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM outbox WHERE dedupe_key = ? AND status = 'pending'", (dedupe_key,)
        )
        return row is not None


_lease = lease


@dataclass(frozen=True, slots=True)
class Delivered:
    """A leased row was delivered at `at` (`result_ref`: the message it made)."""

    row_id: str
    at: datetime
    result_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """A leased row failed: tried again at `next_attempt_at`, or never again when `dead`."""

    row_id: str
    error: str
    next_attempt_at: datetime
    dead: bool = False


async def _record(tx: Tx, delivered: list[tuple[Any, ...]], failed: list[tuple[Any, ...]]) -> None:
    if delivered:
        await tx.executemany(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?, result_ref = ?,"
            " attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = ?",
            delivered,
        )
    if failed:
        await tx.executemany(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
            failed,
        )
