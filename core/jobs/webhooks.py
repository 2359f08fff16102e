"""Webhooks (§6): outbox rows for subscribed events, HMAC signing, and their delivery.

A change that a workspace's webhooks subscribe to gets one `webhook` outbox row per
subscription, written in the change's own unit of work. The outbox hands those rows to
`WebhookDelivery`, which signs the exact body it sends and posts it through a `WebhookSender`
(aiohttp, in bot/). The secret never leaves the subscription row: it is not copied into the
outbox and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.clock import Clock
from core.delivery import DeliveryError
from core.models import OutboxKind, OutboxRow, OutboxStatus, Session, new_id
from core.records.jobs import WebhookSubscription
from core.store import ops
from core.store.codec import ts
from core.store.store import Store
from core.store.webhooks import Webhooks

_log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sessionbot-Signature"  # deprecated: body only, no replay protection
SIGNATURE_V1_HEADER = "X-Sessionbot-Signature-V1"
TIMESTAMP_HEADER = "X-Sessionbot-Timestamp"
DELIVERY_HEADER = "X-Sessionbot-Delivery"
CACHE = timedelta(seconds=5)
REFUSED_BY_POLICY = "connection refused by policy"
UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    retry_after: float | None = None


class WebhookSender(Protocol):
    """Posts a body to a URL (aiohttp in bot/webhooks.py); raises DeliveryError on I/O errors."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse: ...


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body keyed with secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Checks the deprecated body-only signature in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def sign_v1(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with secret>` (replays can be refused)."""
    signed = timestamp.encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def failure_of(status: int) -> str:
    """What the admin sees of a failed answer: its class only (`HTTP 5xx`)."""
    return f"HTTP {status // 100}xx" if 100 <= status <= 599 else "HTTP error"


def body_of(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def payload(session: Session, event: str, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """`{event, workspace, session, data, at}`."""
    return {
        "event": event,
        "workspace": session.workspace,
        "session": {
            "id": session.id,
            "ref": session.ref,
            "title": session.title,
            "mode": session.mode,
            "status": session.status.value,
            "channel_id": session.channel_id,
            "owner_id": session.owner_id,
        },
        "data": dict(data),
        "at": ts(at),
    }


class WebhookRouter:
    """Builds webhook outbox rows for a change; caches each workspace's subscriptions briefly."""

    def __init__(self, webhooks: Webhooks, *, clock: Clock, cache: timedelta = CACHE) -> None:
        self.webhooks = webhooks
        self.clock = clock
        self.cache = cache
        self._cache: dict[str, tuple[datetime, list[WebhookSubscription]]] = {}  # until, value

    async def subscriptions(self, workspace: str) -> list[WebhookSubscription]:
        now = self.clock.now()
        cached = self._cache.get(workspace)
        if cached is not None and now < cached[0]:
            return cached[1]
        found = [w for w in await self.webhooks.in_workspace(workspace) if w.active]
        self._cache[workspace] = (now + self.cache, found)
        return found

    def forget(self, workspace: str) -> None:
        self._cache.pop(workspace, None)

    async def hooks_for(self, workspace: str, event: str) -> Hooks:
        """The subscriptions of `workspace` that want `event` (from the cache)."""
        return Hooks(event, tuple(w for w in await self.subscriptions(workspace) if w.wants(event)))

    async def ops_for(
        self,
        session: Session,
        event: str,
        data: Mapping[str, Any],
        now: datetime,
        *,
        key: str,
        modification_id: str | None = None,
    ) -> list[ops.Op]:
        """One Enqueue per subscription that wants `event` (none: an empty list, fast)."""
        hooks = await self.hooks_for(session.workspace, event)
        return hooks.ops(session, data, now, key=key, modification_id=modification_id)


@dataclass(frozen=True, slots=True)
class Hooks:
    """The subscriptions that want one event, read beforehand: the rows of a change for them
    are built without a read (as a unit that learns its session's ref only as it applies)."""

    event: str
    subscriptions: tuple[WebhookSubscription, ...]

    def ops(
        self,
        session: Session,
        data: Mapping[str, Any],
        now: datetime,
        *,
        key: str,
        modification_id: str | None = None,
    ) -> list[ops.Op]:
        """One Enqueue per subscription (none: an empty list, fast)."""
        if not self.subscriptions:
            return []
        body = payload(session, self.event, data, now)
        found: list[ops.Op] = []
        for hook in self.subscriptions:
            target = {"url": hook.url, "webhook_id": hook.id}
            if modification_id is not None:
                target["modification_id"] = modification_id
            row = OutboxRow(
                id=new_id(),
                workspace=session.workspace,
                session_id=session.id,
                kind=OutboxKind.WEBHOOK,
                target=target,
                payload=body,
                dedupe_key=f"webhook:{key}:{hook.id}",
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            found.append(ops.Enqueue(row))
        return found


class WebhookDelivery:
    """Delivers `webhook` outbox rows of every workspace: sign, POST, settle modifications."""

    def __init__(self, store: Store, *, clock: Clock, sender: WebhookSender) -> None:
        self.store = store
        self.clock = clock
        self.sender = sender

    async def deliver(self, row: OutboxRow) -> str | None:
        """POST the row; raises DeliveryError (the outbox retries) or returns the status."""
        modification_id = row.target.get("modification_id")
        try:
            status = await self._post(row)
        except DeliveryError as exc:
            if modification_id:
                await self.store.plans.set_modification_result(
                    modification_id, now=self.clock.now(), error=f"webhook: {exc}"
                )
            raise
        if modification_id and not await self.store.webhooks.undelivered(
            modification_id, except_row=row.id
        ):
            await self.store.plans.set_modification_result(
                modification_id, now=self.clock.now(), error=None
            )
        return str(status)

    async def _post(self, row: OutboxRow) -> int:
        hook = await self.store.webhooks.get(row.target["webhook_id"])
        if hook is None or not hook.active:
            raise DeliveryError("the webhook subscription was removed", permanent=True)
        body = body_of(row.payload)
        timestamp = str(int(self.clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_V1_HEADER: sign_v1(hook.secret, timestamp, body),
            SIGNATURE_HEADER: sign(hook.secret, body),
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: row.id,
            "User-Agent": "sessionbot-webhooks",
        }
        response = await self.sender.post(hook.url, body, headers)
        if 200 <= response.status < 300:
            return response.status
        _log.info("webhook %s answered HTTP %s", hook.id, response.status)
        permanent = response.status == 410  # Gone: the receiver asks us to stop
        raise DeliveryError(
            failure_of(response.status), retry_after=response.retry_after, permanent=permanent
        )
