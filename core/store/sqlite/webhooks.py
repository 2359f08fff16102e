"""SQLite queries of webhook subscriptions and webhook outbox rows (the scheduler feature)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from core.models import OutboxRow
from core.records.jobs import WebhookSubscription
from core.store.codec import dumps, loads, parse_ts_required, ts
from core.store.sqlite import rows
from core.store.sqlite.engine import SqliteEngine


def _webhook(row: sqlite3.Row) -> WebhookSubscription:
    return WebhookSubscription(
        id=row["id"],
        workspace=row["workspace"],
        url=row["url"],
        secret=row["secret"],
        events=tuple(loads(row["events"]) or ()),
        created_by=row["created_by"],
        created_at=parse_ts_required(row["created_at"]),
        active=bool(row["active"]),
    )


class SqliteWebhooks:
    """Webhook subscriptions and the claim of due webhook rows; `engine` from SqliteStore."""

    engine: SqliteEngine

    async def add_webhook(self, webhook: WebhookSubscription) -> None:
        w = webhook
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO webhook_subscriptions (id, workspace, url, secret, events, active,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    w.id,
                    w.workspace,
                    w.url,
                    w.secret,
                    dumps(list(w.events)),
                    int(w.active),
                    w.created_by,
                    ts(w.created_at),
                ),
            )
        )

    async def remove_webhook(self, workspace: str, webhook_id: str) -> WebhookSubscription | None:
        """Delete the workspace's webhook whose id is or starts with `webhook_id` (unique)."""

        def remove(conn: sqlite3.Connection) -> WebhookSubscription | None:
            found = conn.execute(
                "SELECT * FROM webhook_subscriptions WHERE workspace = ? AND id >= ? AND id < ?",
                (workspace, webhook_id, webhook_id + "\uffff"),
            ).fetchall()
            if len(found) != 1:
                return None
            conn.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (found[0]["id"],))
            return _webhook(found[0])

        return await self.engine.write(remove)

    async def webhooks(self, workspace: str) -> list[WebhookSubscription]:
        found = await self.engine.fetchall(
            "SELECT * FROM webhook_subscriptions WHERE workspace = ? ORDER BY created_at",
            (workspace,),
        )
        return [_webhook(r) for r in found]

    async def webhook(self, webhook_id: str) -> WebhookSubscription | None:
        row = await self.engine.fetchone(
            "SELECT * FROM webhook_subscriptions WHERE id = ?", (webhook_id,)
        )
        return _webhook(row) if row else None

    async def claim_webhook_rows(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> list[OutboxRow]:
        """Lease due webhook rows of every workspace (they need no chat adapter)."""

        def claim(conn: sqlite3.Connection) -> list[OutboxRow]:
            found = conn.execute(
                "SELECT * FROM outbox WHERE status = 'pending' AND kind = 'webhook'"
                " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
                " ORDER BY next_attempt_at LIMIT ?",
                (ts(now), ts(now), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?",
                [(ts(now + lease), r["id"]) for r in found],
            )
            return [rows.outbox(r) for r in found]

        return await self.engine.write(claim, notify=False)

    async def undelivered_webhooks(self, modification_id: str, *, except_row: str) -> int:
        prefix = f"webhook:modification:{modification_id}:"
        row = await self.engine.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ?"
            " AND status != 'delivered' AND id != ?",
            (prefix, prefix + "\uffff", except_row),
        )
        return int(row[0]) if row else 0
