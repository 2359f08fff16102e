"""PostgreSQL queries of webhook subscriptions and webhook outbox rows (the scheduler feature)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from asyncpg import Connection, Record

from core.models import OutboxRow
from core.records.jobs import WebhookSubscription
from core.store.codec import dumps, loads
from core.store.postgres import rows
from core.store.postgres.engine import PgEngine


def _webhook(row: Record) -> WebhookSubscription:
    return WebhookSubscription(
        id=row["id"],
        workspace=row["workspace"],
        url=row["url"],
        secret=row["secret"],
        events=tuple(loads(row["events"]) or ()),
        created_by=row["created_by"],
        created_at=row["created_at"],
        active=bool(row["active"]),
    )


async def lease_outbox(
    conn: Connection,
    *,
    now: datetime,
    until: datetime,
    limit: int,
    where: str,
    extra: Sequence[object] = (),
) -> list[OutboxRow]:
    """Lease up to `limit` due rows matching `where` (its parameters start at $4).

    Rows another replica is leasing at this moment are skipped (SKIP LOCKED) rather than
    waited for, and a committed lease hides a row until it runs out, so two replicas never
    hold the same row.
    """
    found = await conn.fetch(
        # MATERIALIZED: the locking subquery runs once; as a plain subquery the planner may
        # evaluate it again (a rescan, a recheck) and lease more than `limit` rows.
        "WITH due AS MATERIALIZED (SELECT id FROM outbox"
        " WHERE status = 'pending' AND next_attempt_at <= $1"
        f" AND (claimed_until IS NULL OR claimed_until <= $1) AND {where}"
        " ORDER BY next_attempt_at, row_no LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " UPDATE outbox o SET claimed_until = $2 FROM due WHERE o.id = due.id RETURNING o.*",
        now, until, limit, *extra,
    )  # fmt: skip
    found = sorted(found, key=lambda r: (r["next_attempt_at"], r["row_no"]))
    return [rows.outbox(r) for r in found]


class PgWebhooks:
    """Webhook subscriptions and the claim of due webhook rows; `engine` from PostgresStore."""

    engine: PgEngine

    async def add_webhook(self, webhook: WebhookSubscription) -> None:
        w = webhook
        await self.engine.execute(
            "INSERT INTO webhook_subscriptions (id, workspace, url, secret, events, active,"
            " created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            (w.id, w.workspace, w.url, w.secret, dumps(list(w.events)), w.active, w.created_by,
             w.created_at),
        )  # fmt: skip

    async def remove_webhook(self, workspace: str, webhook_id: str) -> WebhookSubscription | None:
        """Delete the workspace's webhook whose id is or starts with `webhook_id` (unique)."""

        async def remove(conn: Connection) -> WebhookSubscription | None:
            found = await conn.fetch(
                "SELECT * FROM webhook_subscriptions WHERE workspace = $1 AND id ^@ $2"
                " FOR UPDATE",
                workspace, webhook_id,
            )  # fmt: skip
            if len(found) != 1:
                return None
            await conn.execute("DELETE FROM webhook_subscriptions WHERE id = $1", found[0]["id"])
            return _webhook(found[0])

        return await self.engine.write(remove)

    async def webhooks(self, workspace: str) -> list[WebhookSubscription]:
        found = await self.engine.fetchall(
            "SELECT * FROM webhook_subscriptions WHERE workspace = $1 ORDER BY created_at, id",
            (workspace,),
        )
        return [_webhook(r) for r in found]

    async def webhook(self, webhook_id: str) -> WebhookSubscription | None:
        row = await self.engine.fetchone(
            "SELECT * FROM webhook_subscriptions WHERE id = $1", (webhook_id,)
        )
        return _webhook(row) if row else None

    async def claim_webhook_rows(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]:
        """Lease due webhook rows of every workspace (they need no chat adapter)."""

        async def claim(conn: Connection) -> list[OutboxRow]:
            return await lease_outbox(
                conn, now=now, until=now + lease, limit=limit, where="kind = 'webhook'"
            )

        return await self.engine.write(claim, notify=False)

    async def undelivered_webhooks(self, modification_id: str, *, except_row: str) -> int:
        prefix = f"webhook:modification:{modification_id}:"
        row = await self.engine.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE dedupe_key ^@ $1"
            " AND status != 'delivered' AND id != $2",
            (prefix, except_row),
        )
        return int(row[0]) if row else 0
