"""Outbox lanes: a slow webhook receiver never delays a chat notice; one session keeps its order.

The receiver is a real aiohttp server on 127.0.0.1 (allow-listed, as an operator would for a local
receiver). It holds each request until the test releases it, at most 5 s; the test releases it
only after it has seen the chat notice delivered, so a dispatcher that waits for the webhook
before the notice fails the test (the notice arrives after the hold ran out) instead of racing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.webhooks import AiohttpWebhookSender
from core.clock import ManualClock
from core.jobs.webhook_policy import WebhookPolicy
from core.outbox import OutboxDispatcher
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.store import Store
from core.views import View
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor, count

ADMIN = actor("root")
OWNER = actor("owner")
LOCAL_RECEIVER = WebhookPolicy.parse(["127.0.0.1"])
HOLD_SECONDS = 5.0
BOUND_SECONDS = 30.0  # only so a broken dispatcher fails instead of hanging


@dataclass
class SlowReceiver:
    """Holds each request until `release` is set (at most HOLD_SECONDS)."""

    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0
    answered: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.holding += 1
        self.arrived.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.release.wait(), HOLD_SECONDS)
        self.holding -= 1
        self.answered += 1
        return web.Response(status=200)


@dataclass
class WatchedChat:
    """A chat platform stand-in that notes, for each post, whether the webhook was still held."""

    receiver: SlowReceiver
    platform: str = "console"
    posts: list[tuple[str, bool]] = field(default_factory=list)
    posted: asyncio.Event = field(default_factory=asyncio.Event)
    after_hook_arrived: bool = False  # post only once the webhook request is being held

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        if self.after_hook_arrived:
            await self.receiver.arrived.wait()
        self.posts.append((view.plain_text(), self.receiver.holding > 0))
        self.posted.set()
        return f"msg{len(self.posts)}"

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        return None

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        return await self.post(workspace, f"dm:{user_id}", None, view)


@pytest.fixture
async def receiver() -> AsyncIterator[SlowReceiver]:
    found = SlowReceiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield found
    found.release.set()
    await runner.cleanup()


@pytest.fixture
def local_services(store: Store, clock: ManualClock) -> Services:
    config = ServiceConfig(admins=frozenset({"root"}), webhook_policy=LOCAL_RECEIVER)
    return build_services(store, clock=clock, config=config)


def _dispatcher(
    store: Store, clock: ManualClock, *chats: WatchedChat
) -> tuple[OutboxDispatcher, AiohttpWebhookSender]:
    sender = AiohttpWebhookSender(policy=LOCAL_RECEIVER, timeout=10)
    return OutboxDispatcher(store, clock=clock, deliveries=chats, webhook_sender=sender), sender


async def _subscribe(services: Services, url: str, events: str) -> None:
    added = await CommandRunner(services).run(ADMIN, CHAT, f"webhook add {url} {events}")
    assert added is not None and "added" in added.view.title


async def test_a_held_webhook_does_not_delay_a_notice_queued_after_it(
    local_services: Services,
    store: Store,
    clock: ManualClock,
    receiver: SlowReceiver,
) -> None:
    await _subscribe(local_services, receiver.url, "plan_submitted")
    session = await local_services.sessions.start(OWNER, CHAT, "first")
    chat = WatchedChat(receiver)
    dispatcher, sender = _dispatcher(store, clock, chat)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        await asyncio.wait_for(chat.posted.wait(), BOUND_SECONDS)  # the card: nothing held yet
        chat.posted.clear()
        await local_services.plans.submit(OWNER, str(session.ref), ["step"])  # webhook + plan post
        dispatcher.wake()
        await asyncio.wait_for(receiver.arrived.wait(), BOUND_SECONDS)
        await asyncio.wait_for(chat.posted.wait(), BOUND_SECONDS)
        chat.posted.clear()
        later = await local_services.sessions.start(OWNER, CHAT, "queued after the webhook")
        dispatcher.wake()
        while not any(later.title in text for text, _ in chat.posts):
            await asyncio.wait_for(chat.posted.wait(), BOUND_SECONDS)
            chat.posted.clear()
        held_during = [held for text, held in chat.posts if later.title in text]
        assert held_during == [True], "the notice was delivered while the webhook was held"
        assert receiver.answered == 0
        receiver.release.set()
    finally:
        receiver.release.set()
        stop.set()
        dispatcher.wake()
        await asyncio.wait_for(running, BOUND_SECONDS)
        await sender.close()
    assert receiver.answered == 1, "stopping finished the webhook delivery in flight"
    (hook_row,) = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert hook_row.status.value == "delivered"


async def test_run_once_delivers_a_batch_concurrently_and_one_session_in_order(
    local_services: Services,
    store: Store,
    clock: ManualClock,
    receiver: SlowReceiver,
) -> None:
    await _subscribe(local_services, receiver.url, "created")
    chat = WatchedChat(receiver, after_hook_arrived=True)  # one at a time would never finish
    dispatcher, sender = _dispatcher(store, clock, chat)
    session = await local_services.sessions.start(OWNER, CHAT, "batched")
    await local_services.plans.submit(OWNER, str(session.ref), ["a", "b"])
    rows = await store.outbox.rows(session_id=session.id)
    notices = [r for r in rows if r.kind.value != "webhook"]
    assert len(notices) >= 2 and len(rows) == len(notices) + 1

    async def release_after_every_notice() -> None:
        while len(chat.posts) < len(notices):
            await chat.posted.wait()
            chat.posted.clear()
        receiver.release.set()

    releasing = asyncio.create_task(release_after_every_notice())
    try:
        attempted = await asyncio.wait_for(dispatcher.run_once(), BOUND_SECONDS)
    finally:
        receiver.release.set()
        await sender.close()
    await releasing
    assert attempted == len(rows)
    assert [held for _, held in chat.posts] == [True] * len(notices), "none waited for the hook"
    expected = [View.from_json(r.payload).plain_text() for r in notices]
    assert [text for text, _ in chat.posts] == expected, "one session's notices in order"
    assert receiver.answered == 1


async def test_stopping_finishes_the_delivery_in_progress_and_leaves_the_queue_leased(
    local_services: Services,
    store: Store,
    clock: ManualClock,
    receiver: SlowReceiver,
) -> None:
    await _subscribe(local_services, receiver.url, "created plan_submitted")
    session = await local_services.sessions.start(OWNER, CHAT, "stopping")
    await local_services.plans.submit(OWNER, str(session.ref), ["step"])
    dispatcher, sender = _dispatcher(store, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        await asyncio.wait_for(receiver.arrived.wait(), BOUND_SECONDS)
        stop.set()
        dispatcher.wake()
        receiver.release.set()
        await asyncio.wait_for(running, BOUND_SECONDS)
    finally:
        receiver.release.set()
        await sender.close()
    first, second = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert receiver.answered == 1
    assert first.status.value == "delivered"
    assert (second.status.value, second.attempts) == ("pending", 0), "queued, not attempted"


async def test_stopping_cancels_a_delivery_past_its_grace_and_leaves_its_row_leased(
    local_services: Services,
    store: Store,
    clock: ManualClock,
    receiver: SlowReceiver,
) -> None:
    """A receiver that does not answer cannot hold shutdown: after `stop_grace` the delivery is
    cancelled, nothing is recorded for it, and its row is delivered again after its lease."""
    await _subscribe(local_services, receiver.url, "created")
    session = await local_services.sessions.start(OWNER, CHAT, "hanging")
    dispatcher, sender = _dispatcher(store, clock)
    dispatcher.stop_grace = 0.2  # well below the receiver's hold
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        await asyncio.wait_for(receiver.arrived.wait(), BOUND_SECONDS)
        stop.set()  # no wake(): the stop itself starts the grace
        await asyncio.wait_for(running, BOUND_SECONDS)
        assert receiver.answered == 0  # returned while the request was still held
    finally:
        receiver.release.set()
        await sender.close()
    [hook] = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert (hook.status.value, hook.attempts) == ("pending", 0)
    clock.advance(dispatcher.lease)
    receiver.arrived.clear()
    dispatcher, sender = _dispatcher(store, clock)
    try:
        await dispatcher.run_once()
    finally:
        await sender.close()
    [hook] = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert hook.status.value == "delivered"


@dataclass
class GatedChat:
    """A chat platform stand-in whose posts wait until the test opens the gate."""

    expected: int
    platform: str = "console"
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    busy: asyncio.Event = field(default_factory=asyncio.Event)  # as many started as can run
    done: asyncio.Event = field(default_factory=asyncio.Event)  # every expected post made
    slots: int = 2
    started: int = 0
    posted: int = 0

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        self.started += 1
        if self.started >= self.slots:
            self.busy.set()
        await self.gate.wait()
        self.posted += 1
        if self.posted == self.expected:
            self.done.set()
        return f"msg{self.posted}"

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        return None

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        return await self.post(workspace, user_id, None, view)


async def test_claims_stop_at_the_room_left_so_nothing_waits_past_its_lease(
    local_services: Services, store: Store, clock: ManualClock
) -> None:
    """With every delivery slot busy, the dispatcher leases no more rows than it can start soon
    (`concurrency × CLAIM_AHEAD`): a backlog leased all at once would outlive its lease."""
    for n in range(12):
        await local_services.sessions.start(OWNER, CHAT, f"session {n}")  # one card row each
    chat = GatedChat(expected=12)
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[chat], concurrency=chat.slots)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        await asyncio.wait_for(chat.busy.wait(), BOUND_SECONDS)
        for _ in range(20):  # let the loop run further rounds, if it would claim more
            await asyncio.sleep(0)
        leased = await count(store, "outbox", "claimed_until IS NOT NULL")
        assert leased == dispatcher.capacity == 4
        chat.gate.set()
        await asyncio.wait_for(chat.done.wait(), BOUND_SECONDS)
    finally:
        chat.gate.set()
        stop.set()
        dispatcher.wake()
        await asyncio.wait_for(running, BOUND_SECONDS)
    assert chat.posted == 12 and chat.started == 12


async def test_the_console_wait_returns_once_chat_notices_are_shown(
    local_services: Services,
    store: Store,
    clock: ManualClock,
    receiver: SlowReceiver,
) -> None:
    """`run_once(webhooks=False)` (the console's prompt) does not wait for a held webhook."""
    await _subscribe(local_services, receiver.url, "created")
    await local_services.sessions.start(OWNER, CHAT, "prompt")
    chat = WatchedChat(receiver, after_hook_arrived=True)
    dispatcher, sender = _dispatcher(store, clock, chat)
    try:
        await asyncio.wait_for(dispatcher.run_once(webhooks=False), BOUND_SECONDS)
        assert [held for _, held in chat.posts] == [True]
        assert receiver.answered == 0, "returned while the webhook was still held"
        receiver.release.set()
        await asyncio.wait_for(dispatcher.settle(), BOUND_SECONDS)
    finally:
        receiver.release.set()
        await sender.close()
    assert receiver.answered == 1
