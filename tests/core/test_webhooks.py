"""Webhooks end to end: a real aiohttp receiver on 127.0.0.1, signatures, retries, `processed`.

The receiver is on loopback, which the target policy refuses: these tests allow-list 127.0.0.1
the way an operator would (`SESSIONBOT_WEBHOOK_ALLOW`) for a local receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiohttp import web

from bot.webhooks import AiohttpWebhookSender
from core.clock import ManualClock
from core.jobs import webhooks
from core.jobs.webhook_policy import WebhookPolicy
from core.models import Decision, EventType, ModAction
from core.outbox import OutboxDispatcher
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.sqlite.store import SqliteStore
from core.store.store import Store
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor, count

ADMIN = actor("root")
OWNER = actor("owner")
LOCAL_RECEIVER = WebhookPolicy.parse(["127.0.0.1"])
REPLAY_WINDOW = 300


def verify_delivery(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """What a receiver does: a fresh timestamp, and the v1 signature over `<timestamp>.<body>`."""
    timestamp = headers.get("X-Sessionbot-Timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > REPLAY_WINDOW:
        return False
    expected = (
        "v1="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, headers.get("X-Sessionbot-Signature-V1", ""))


@pytest.fixture
def services(store: Store, clock: ManualClock) -> Services:
    config = ServiceConfig(admins=frozenset({"root"}), webhook_policy=LOCAL_RECEIVER)
    return build_services(store, clock=clock, config=config)


@dataclass
class Receiver:
    """A webhook endpoint that fails `failures` times before it accepts."""

    failures: int = 2
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 500 if self.failures > 0 else 200
        self.failures -= 1
        self.received.append((dict(request.headers), body, status))
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()


def test_signature_verifies_only_with_the_secret() -> None:
    body = b'{"event":"completed"}'
    signature = webhooks.sign("s3cret", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify("s3cret", body, signature)
    assert not webhooks.verify("other", body, signature)
    assert not webhooks.verify("s3cret", body + b" ", signature)


async def test_failing_receiver_gets_one_successful_delivery_then_processed_flips(
    runner: CommandRunner,
    services: Services,
    store: SqliteStore,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    added = await runner.run(ADMIN, CHAT, f"webhook add {receiver.url} modification")
    assert added is not None and added.ephemeral
    (hook,) = await store.webhooks.in_workspace(CHAT.workspace)
    assert f"`{hook.secret}`" in added.view.plain_text(), "the secret is shown once, on add"
    listed = await runner.run(ADMIN, CHAT, "webhook list")
    assert listed is not None and hook.secret not in listed.view.plain_text()

    session = await services.sessions.start(OWNER, CHAT, "hooked")
    plan = (await services.plans.submit(OWNER, str(session.ref), ["build"])).plan
    await services.plans.decide(ADMIN, Decision.APPROVE, plan_id=plan.id)
    mod = (
        await services.plans.modify(OWNER, str(session.ref), 1, ModAction.STATUS_CHANGE, "done")
    ).modification
    assert not mod.processed
    assert await count(store, "outbox", "kind = 'webhook'") == 1, "only subscribed events"

    sender = AiohttpWebhookSender(policy=LOCAL_RECEIVER, timeout=5)
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[], webhook_sender=sender)
    try:
        for _ in range(6):
            await dispatcher.run_once()
            clock.advance(timedelta(minutes=1))
            (stored,) = await store.plans.modifications(plan.id)
            if stored.processed:
                break
            assert stored.error == "webhook: HTTP 5xx", "the class of the status only"
    finally:
        await sender.close()
    assert [status for _, _, status in receiver.received] == [500, 500, 200]
    (stored,) = await store.plans.modifications(plan.id)
    assert stored.processed and stored.processed_at is not None
    now = clock.now().timestamp()
    for headers, body, _ in receiver.received:
        assert verify_delivery(hook.secret, headers, body, now)
        assert not verify_delivery("other", headers, body, now)
        assert not verify_delivery(hook.secret, headers, body + b" ", now)
        assert not verify_delivery(hook.secret, headers, body, now + REPLAY_WINDOW + 60), "replay"
        moved = {**headers, "X-Sessionbot-Timestamp": str(int(now))}
        assert moved == headers or not verify_delivery(hook.secret, moved, body, now)
        assert webhooks.verify(hook.secret, body, headers["X-Sessionbot-Signature"]), "deprecated"
    payload = json.loads(receiver.received[-1][1])
    assert set(payload) == {"event", "workspace", "session", "data", "at"}
    assert payload["event"] == "modification" and payload["session"]["id"] == session.id
    assert payload["data"]["value"] == "done"
    assert await count(store, "outbox", "kind = 'webhook' AND status = 'delivered'") == 1
    await dispatcher.run_once()
    assert len(receiver.received) == 3, "delivered rows are not sent again"


async def test_modifications_without_webhooks_are_processed_at_once(
    services: Services, store: SqliteStore
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "plain")
    plan = (await services.plans.submit(OWNER, str(session.ref), ["x"])).plan
    mod = (
        await services.plans.modify(OWNER, str(session.ref), 1, ModAction.COMMENT, "hi")
    ).modification
    assert mod.processed
    assert (await store.plans.modifications(plan.id))[0].processed


async def test_webhook_commands_are_for_admins_and_remove_by_short_id(
    runner: CommandRunner, store: SqliteStore
) -> None:
    refused = await runner.run(OWNER, CHAT, "webhook add https://example.com/h")
    assert refused is not None and "You can't" in refused.view.title
    bad = await runner.run(ADMIN, CHAT, "webhook add https://example.com/h finished")
    assert bad is not None and "Unknown event type `finished`" in bad.view.title
    await runner.run(ADMIN, CHAT, "webhook add https://example.com/h completed failed")
    (hook,) = await store.webhooks.in_workspace(CHAT.workspace)
    assert hook.events == ("completed", "failed")
    removed = await runner.run(ADMIN, CHAT, f"webhook remove {hook.id[:8]}")
    assert removed is not None and "removed" in removed.view.title
    assert await store.webhooks.in_workspace(CHAT.workspace) == []


async def test_creation_plans_and_agent_progress_reach_subscribed_webhooks(
    runner: CommandRunner, services: Services, store: SqliteStore
) -> None:
    added = await runner.run(
        ADMIN,
        CHAT,
        "webhook add https://hooks.example/x created plan_submitted tool_call iteration",
    )
    assert added is not None and "Webhook" in added.view.plain_text()
    session = await services.sessions.start(OWNER, CHAT, "agent run")
    await services.plans.submit(OWNER, str(session.ref), ["step"])
    await services.progress.record_event(OWNER, session.id, EventType.TOOL_CALL, {"tool": "sh"})
    await services.progress.record_event(
        OWNER, session.id, EventType.LEARNING, {"fact": "unsubscribed"}
    )
    await services.plans.decide(OWNER, Decision.APPROVE, ref=str(session.ref))
    await services.progress.record_iteration(OWNER, session.id)
    rows = [r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"]
    events = [r.payload["event"] for r in rows]
    assert events == ["created", "plan_submitted", "tool_call", "iteration"]
