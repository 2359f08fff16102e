"""The webhook target policy: refused at `add`, refused at connect time, operator allow-list.

Deliveries go through the real aiohttp sender to a TCP listener on 127.0.0.1 that counts
connections, so "refused" means no connection was ever opened, not just that no handler ran.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.webhooks import AiohttpWebhookSender
from core.clock import ManualClock
from core.errors import UsageError
from core.jobs.webhook_policy import WebhookPolicy, WebhookTargetRefused
from core.models import OutboxRow, OutboxStatus, new_id
from core.outbox import OutboxDispatcher
from core.records.jobs import WebhookSubscription
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.store import Store
from core.wiring import build_services
from tests.conftest import CHAT, actor

ADMIN = actor("root")
OWNER = actor("owner")
PUBLIC = "93.184.215.14"

REFUSED_URLS = [
    "https://127.0.0.1/hook",
    "https://127.0.0.1:8080/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://ｌｏｃａｌｈｏｓｔ/hook",
    "https://１２７.０.０.１/hook",
    "https://[::1]/hook",
    "https://0x7f000001/hook",
    "https://2130706433/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://172.31.255.255/hook",
    "https://192.168.1.10/hook",
    "https://100.64.0.1/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fe80::1%25eth0]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[::127.0.0.1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[2002:7f00:1::1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "https://224.0.0.1/hook",
    "https://[ff02::1]/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "http://hooks.example/hook",
    "ftp://hooks.example/hook",
    "https://user:pw@hooks.example/hook",
    "https://user@hooks.example/hook",
    "https:///hook",
    "https://hooks.example:0/hook",
    "not a url",
]


@dataclass
class FlipResolver(AbstractResolver):
    """A DNS whose answers change: `first` for the first `flip_after` lookups, then `then`.

    It answers both the check at `add` (core's resolver protocol) and the sender's connector.
    """

    first: str = PUBLIC
    then: str = "127.0.0.1"
    flip_after: int = 1
    lookups: int = 0

    def _next(self) -> str:
        self.lookups += 1
        return self.first if self.lookups <= self.flip_after else self.then

    async def addresses(self, host: str) -> list[str]:
        return [self._next()]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self._next()
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and answers any request 200."""

    port: int = 0
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with_body = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in with_body.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    yield found
    server.close()
    await server.wait_closed()


def _runner(store: Store, clock: ManualClock, policy: WebhookPolicy) -> CommandRunner:
    config = ServiceConfig(admins=frozenset({"root"}), webhook_policy=policy)
    return CommandRunner(build_services(store, clock=clock, config=config))


async def _deliver(
    store: Store, clock: ManualClock, sender: AiohttpWebhookSender, *, rounds: int = 1
) -> None:
    dispatcher = OutboxDispatcher(store, clock=clock, deliveries=[], webhook_sender=sender)
    try:
        for _ in range(rounds):
            await dispatcher.run_once()
            clock.advance(timedelta(minutes=20))
    finally:
        await sender.close()


async def _subscribe(store: Store, clock: ManualClock, url: str) -> WebhookSubscription:
    """A subscription stored as it was before the policy existed (no check at `add`)."""
    hook = WebhookSubscription(
        id=new_id(),
        workspace=CHAT.workspace,
        url=url,
        secret="s3cret",
        events=(),
        created_by="root",
        created_at=clock.now(),
    )
    await store.webhooks.add(hook)
    return hook


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_static_rules_refuse_every_internal_spelling(url: str) -> None:
    with pytest.raises(WebhookTargetRefused) as refused:
        WebhookPolicy().check_url(url)
    assert isinstance(refused.value, UsageError)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example/x", "https://93.184.215.14/x", "https://[2606:4700::1111]:8443/x"],
)
def test_static_rules_accept_public_https(url: str) -> None:
    WebhookPolicy().check_url(url)


async def test_add_refuses_each_spelling_with_a_reason_and_stores_nothing(
    runner: CommandRunner, store: Store
) -> None:
    for url in REFUSED_URLS:
        reply = await runner.run(ADMIN, CHAT, f"webhook add {url} created")
        assert reply is not None, url
        title = reply.view.title
        assert reply.view.kind == "error", url
        grammar = "starting with https://" in title  # not a URL at all: the parser says so
        assert grammar or "Webhook URL refused: " in title, (url, title)
    assert await store.webhooks.in_workspace(CHAT.workspace) == []


async def test_add_refuses_a_name_that_resolves_to_loopback(
    store: Store, clock: ManualClock
) -> None:
    dns = FlipResolver(first="127.0.0.1", then=PUBLIC)
    runner = _runner(store, clock, WebhookPolicy(resolve=dns.addresses))
    reply = await runner.run(ADMIN, CHAT, "webhook add https://internal.example/hook")
    assert reply is not None
    assert reply.view.title.endswith(
        "Webhook URL refused: the host resolves to a loopback address."
    )
    assert await store.webhooks.in_workspace(CHAT.workspace) == []
    public = await runner.run(ADMIN, CHAT, "webhook add https://internal.example/hook")
    assert public is not None and "added" in public.view.title, "the second answer is public"


async def test_dns_answer_changing_after_add_is_refused_at_connect_time(
    store: Store, clock: ManualClock, listener: Listener
) -> None:
    dns = FlipResolver()
    runner = _runner(store, clock, WebhookPolicy(resolve=dns.addresses))
    added = await runner.run(ADMIN, CHAT, f"webhook add https://rebind.example:{listener.port}/h")
    assert added is not None and "added" in added.view.title, "public at add"
    session = await runner.services.sessions.start(OWNER, CHAT, "rebinding")
    await _deliver(store, clock, AiohttpWebhookSender(resolver=dns, timeout=5))
    assert dns.lookups == 2, "the connection resolved the name again"
    assert listener.connections == 0
    (row,) = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert row.status is OutboxStatus.DEAD and row.last_error == "connection refused by policy"


async def test_existing_internal_subscriptions_are_never_delivered_and_listed_why(
    runner: CommandRunner, store: Store, clock: ManualClock, listener: Listener
) -> None:
    port = listener.port
    urls = [
        f"http://127.0.0.1:{port}/h",
        f"https://127.0.0.1:{port}/h",
        f"http://localhost:{port}/h",
        f"http://0x7f000001:{port}/h",
        f"http://2130706433:{port}/h",
        f"http://0177.0.0.1:{port}/h",
        f"http://[::ffff:127.0.0.1]:{port}/h",
        f"http://user:pw@127.0.0.1:{port}/h",
    ]
    for url in urls:
        await _subscribe(store, clock, url)
    listed = await runner.run(ADMIN, CHAT, "webhook list")
    assert listed is not None
    assert listed.view.plain_text().count("not delivered: ") == len(urls)
    session = await runner.services.sessions.start(OWNER, CHAT, "old hooks")
    await _deliver(store, clock, AiohttpWebhookSender(timeout=5))
    assert listener.connections == 0
    rows = [r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"]
    assert len(rows) == len(urls)
    assert {(r.status, r.last_error) for r in rows} == {
        (OutboxStatus.DEAD, "connection refused by policy")
    }


async def test_operator_allow_list_lets_a_loopback_receiver_through(
    store: Store, clock: ManualClock, listener: Listener
) -> None:
    dns = FlipResolver(first="127.0.0.1")
    by_name = WebhookPolicy.parse(["receiver.test"], resolve=dns.addresses)
    runner = _runner(store, clock, by_name)
    added = await runner.run(ADMIN, CHAT, f"webhook add http://receiver.test:{listener.port}/h")
    assert added is not None and "added" in added.view.title, "http:// to an allow-listed host"
    refused = await runner.run(ADMIN, CHAT, f"webhook add http://127.0.0.1:{listener.port}/h")
    assert refused is not None and "Webhook URL refused" in refused.view.title
    await runner.services.sessions.start(OWNER, CHAT, "to the local receiver")
    await _deliver(store, clock, AiohttpWebhookSender(policy=by_name, resolver=dns, timeout=5))
    assert listener.connections == 1
    (hook,) = await store.webhooks.in_workspace(CHAT.workspace)
    await store.webhooks.remove(CHAT.workspace, hook.id)

    by_address = WebhookPolicy.parse(["127.0.0.0/8"])
    runner = _runner(store, clock, by_address)
    added = await runner.run(ADMIN, CHAT, f"webhook add http://127.0.0.1:{listener.port}/h")
    assert added is not None and "added" in added.view.title
    await runner.services.sessions.start(OWNER, CHAT, "by address")
    await _deliver(store, clock, AiohttpWebhookSender(policy=by_address, timeout=5))
    assert listener.connections == 2


async def test_stored_errors_name_no_class_port_or_status(
    store: Store, clock: ManualClock, listener: Listener
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    policy = WebhookPolicy.parse(["127.0.0.1"])
    runner = _runner(store, clock, policy)
    added = await runner.run(ADMIN, CHAT, f"webhook add http://127.0.0.1:{closed_port}/h")
    assert added is not None and "added" in added.view.title
    session = await runner.services.sessions.start(OWNER, CHAT, "closed port")
    await _deliver(store, clock, AiohttpWebhookSender(policy=policy, timeout=5))
    (row,) = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    assert row.status is OutboxStatus.PENDING and row.last_error == "unreachable"
    assert str(closed_port) not in (row.last_error or "")


async def _delivered_to(
    store: Store,
    clock: ManualClock,
    receiver: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    title: str,
    *,
    wait: float = 5,
) -> OutboxRow:
    """One session event sent to a loopback `receiver`; its webhook outbox row after."""
    server = await asyncio.start_server(receiver, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = WebhookPolicy.parse(["127.0.0.1"])
    try:
        runner = _runner(store, clock, policy)
        await runner.run(ADMIN, CHAT, f"webhook add http://127.0.0.1:{port}/h")
        session = await runner.services.sessions.start(OWNER, CHAT, title)
        await _deliver(store, clock, AiohttpWebhookSender(policy=policy, timeout=wait))
    finally:
        server.close()
        await server.wait_closed()
    (row,) = [
        r for r in await store.outbox.rows(session_id=session.id) if r.kind.value == "webhook"
    ]
    return row


@pytest.mark.parametrize(
    ("status", "shown"), [(503, "HTTP 5xx"), (404, "HTTP 4xx"), (302, "HTTP 3xx")]
)
async def test_http_failures_are_recorded_by_class(
    store: Store, clock: ManualClock, status: int, shown: str
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 {status} X\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    row = await _delivered_to(store, clock, answer, "failing receiver")
    assert row.last_error == shown and str(status) not in shown


async def test_an_endless_response_body_is_not_read_past_a_cap(
    store: Store, clock: ManualClock
) -> None:
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        chunk = b"x" * 65536
        try:
            while sent < 1 << 30:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass  # the sender stopped reading and closed
        finally:
            writer.close()

    row = await _delivered_to(store, clock, endless, "endless receiver", wait=3)
    assert row.status is OutboxStatus.DELIVERED, row.last_error
    assert sent < 1 << 30
