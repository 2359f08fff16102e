"""Webhook subscriptions and the claim of due webhook outbox rows (the scheduler feature)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.models import OutboxRow
from core.records.jobs import WebhookSubscription
from core.store import outbox
from core.store.db import Database, Tx
from core.store.decode import rows
from core.store.writes import insert

_W = f"SELECT {rows.webhook.columns} FROM webhook_subscriptions"


class Webhooks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, webhook: WebhookSubscription) -> None:
        await self.db.execute(*insert("webhook_subscriptions", rows.webhook.columns, webhook))

    async def remove(self, workspace: str, webhook_id: str) -> WebhookSubscription | None:
        """Delete the workspace's webhook whose id is or starts with `webhook_id` (unique);
        None when none or several match, or a concurrent remove took it first."""
        condition, args = outbox.prefixed("id", [webhook_id])

        async def remove(tx: Tx) -> WebhookSubscription | None:
            found = await tx.fetchall(
                f"{_W} WHERE workspace = ? AND {condition}", (workspace, *args)
            )
            if len(found) != 1:
                return None
            deleted = await tx.execute(
                "DELETE FROM webhook_subscriptions WHERE id = ?", (found[0]["id"],)
            )
            return rows.webhook(found[0]) if deleted == 1 else None

        return await self.db.write(remove)

    async def in_workspace(self, workspace: str) -> list[WebhookSubscription]:
        found = await self.db.fetchall(
            f"{_W} WHERE workspace = ? ORDER BY created_at, id", (workspace,)
        )
        return [rows.webhook(r) for r in found]

    async def get(self, webhook_id: str) -> WebhookSubscription | None:
        row = await self.db.fetchone(f"{_W} WHERE id = ?", (webhook_id,))
        return rows.webhook(row) if row else None

    async def claim_rows(self, *, now: datetime, limit: int, lease: timedelta) -> list[OutboxRow]:
        """Lease due webhook rows of every workspace (they need no chat adapter)."""

        async def claim(tx: Tx) -> list[OutboxRow]:
            return await outbox.lease(
                tx, now=now, until=now + lease, limit=limit, where="kind = 'webhook'"
            )

        return await self.db.write(claim, notify=False)  # a lease adds nothing to deliver

    async def undelivered(self, modification_id: str, *, except_row: str) -> int:
        """Webhook rows of a modification not delivered yet, besides `except_row`."""
        prefix = f"webhook:modification:{modification_id}:"
        condition, args = outbox.prefixed("dedupe_key", [prefix])
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM outbox WHERE {condition} AND status <> 'delivered' AND id <> ?",
            (*args, except_row),
        )
        return int(row[0]) if row else 0
