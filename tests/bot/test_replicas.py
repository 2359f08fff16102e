"""Several `sessionbot serve` processes on one PostgreSQL database (SPEC §13).

Real processes, a real PostgreSQL server (tests/pg.py) and the fake Slack Web API in this
process: three replicas sweep, catch up summaries and deliver the outbox at once over 1,000
due sessions; two replicas take 50 concurrent Approve/Reject clicks on one plan.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession, ClientTimeout

from core.clock import ManualClock
from core.jobs import summaries
from core.models import Actor, ChatRef, Role, Source
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.store.store import Store
from core.wiring import build_services
from tests.adapters.slack.harness import BOT_TOKEN, WORKSPACE, plan_button
from tests.conftest import count
from tests.fakes.slack_api import FakeSlackApi, Message
from tests.fakes.slack_signing import (
    DEFAULT_SIGNING_SECRET,
    SignedRequest,
    block_actions_request,
    view_submission_request,
)

ROOT = Path(__file__).resolve().parents[2]
HTTP = ClientTimeout(total=20)
SETTLE_SECONDS = 120.0  # the bound on waiting for the replicas to finish the work
CHANNELS = [f"C{n:04d}" for n in range(10)]
REASON = {"reason": {"reason_input": {"type": "plain_text_input", "value": "not now"}}}
TEAM = "T0001"


def _serve(db_url: str, fake: FakeSlackApi, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": db_url,
        "SESSIONBOT_HTTP_HOST": "127.0.0.1",
        "SESSIONBOT_HTTP_PORT": "0",
        "SESSIONBOT_LOG_LEVEL": "info",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


@asynccontextmanager
async def replicas(
    db_url: str, fake: FakeSlackApi, folder: Path, count: int
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    started = [_serve(db_url, fake, folder / f"replica{i}.log") for i in range(count)]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:  # off the loop: the fake Slack API it serves keeps answering while they stop
                await asyncio.to_thread(process.wait, timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, timeout=10)
        for i, process in enumerate(started):
            log = (folder / f"replica{i}.log").read_text(errors="replace")
            assert "Traceback" not in log, log[-3000:]
            assert process.returncode in (0, -15), log[-3000:]


async def settled(
    done: Callable[[], Awaitable[bool]], what: str, running: list[subprocess.Popen[bytes]]
) -> None:
    """Wait (bounded) until `done()` holds; the replicas work on their own clocks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while not await done():
        if any(process.poll() is not None for process in running):
            raise AssertionError(f"a replica exited before it could {what}")
        if loop.time() > deadline:
            raise AssertionError(f"the replicas did not {what} in time")
        await asyncio.sleep(0.2)


@pytest.fixture
def backend() -> str:
    """`db_url` is a fresh database on the tests' PostgreSQL server (tests/conftest.py)."""
    return "postgres"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as api:
        yield api


def _slack(user: str, *, admin: bool = False) -> Actor:
    return Actor(WORKSPACE, user, Source.SLACK, platform_admin=admin)


async def test_three_replicas_deliver_every_notification_and_summary_once(
    db_url: str, fake: FakeSlackApi, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now - timedelta(days=3))
    store = open_store(db_url)
    await store.open()
    try:
        services = build_services(store, clock=clock, config=ServiceConfig())
        for n in range(1000):  # all idle past their deadline: the replicas abandon them
            chat = ChatRef("slack", WORKSPACE, CHANNELS[n % len(CHANNELS)])
            await services.sessions.start(_slack(f"U{n % 37:04d}"), chat, f"job {n}")
        slot = now - timedelta(minutes=10)
        for channel in CHANNELS:  # a summary slot ten minutes ago: caught up at start
            await summaries.subscribe(
                services, _slack("UADMIN", admin=True), channel, f"daily {slot:%H:%M}", "UTC"
            )

        async def delivered() -> bool:
            return not any((await store.outbox.counts()).values())  # none pending, none dead

        async with replicas(db_url, fake, tmp_path, 3) as running:
            await settled(lambda: _none_due(store), "abandon 1,000 sessions", running)
            await settled(delivered, "deliver every outbox row", running)
        rows = await count(store, "outbox", "status = 'delivered'")
    finally:
        await store.close()

    posts = [(m.channel, m.thread_ts, m.text) for m in fake.messages]
    twice = [post for post, seen in Counter(posts).items() if seen > 1]
    assert not twice, twice[:5]
    assert len(posts) == rows >= 2000  # a card and an "abandoned" notice per session
    summary_posts = Counter(m.channel for m in fake.messages if "Summary for" in (m.text or ""))
    assert summary_posts == Counter(dict.fromkeys(CHANNELS, 1))


async def _none_due(store: Store) -> bool:
    return not await store.jobs.due_abandon(datetime.now(UTC), limit=1)


async def test_fifty_concurrent_clicks_on_two_replicas_decide_once(
    db_url: str, fake: FakeSlackApi, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    store = open_store(db_url)
    await store.open()
    try:
        services = build_services(store, clock=clock, config=ServiceConfig())
        owner = _slack("UOWNER")
        session = await services.sessions.start(
            owner, ChatRef("slack", WORKSPACE, CHANNELS[0]), "deploy"
        )
        deciders = [f"UAPPROVER{n:02d}" for n in range(50)]
        for user in deciders:
            await services.members.share(owner, session.id, user, role=Role.APPROVER)
        await services.plans.submit(owner, session.id, ["migrate", "flip"])

        async with (
            replicas(db_url, fake, tmp_path, 2) as running,
            ClientSession(timeout=HTTP) as web,
        ):
            ports = await _ports(tmp_path, running)
            plan_message = await _plan_message(fake, running)

            def click(n: int, action: str) -> tuple[int, SignedRequest]:
                return ports[n % 2], block_actions_request(
                    action,
                    plan_button(plan_message, action)["value"],
                    response_url=fake.response_url(f"click-{n}"),
                    message_ts=plan_message.ts,
                    message={"type": "message", "ts": plan_message.ts, "text": ""},
                    user_id=deciders[n],
                    channel_id=plan_message.channel,
                )

            async def send(port: int, request: SignedRequest) -> int:
                url = f"http://127.0.0.1:{port}/slack/events"
                async with web.post(url, data=request.body, headers=request.headers) as resp:
                    return resp.status

            # Half the deciders open the Reject reason form first (that decides nothing) ...
            rejecters = range(0, 50, 2)
            opened = await asyncio.gather(*(send(*click(n, "plan_reject")) for n in rejecters))
            assert opened == [200] * 25

            async def all_opened() -> bool:
                return len(fake.views) == 25

            await settled(all_opened, "open 25 Reject forms", running)
            forms = []
            for n, view in enumerate(fake.views):  # ... then submit them while the rest approve
                forms.append(
                    (
                        ports[n % 2],
                        view_submission_request(
                            "plan_reject_reason",
                            private_metadata=view.view["private_metadata"],
                            view_id=view.view_id,
                            user_id=deciders[2 * n],
                            state_values=REASON,
                        ),
                    )
                )
            approvals = [click(n, "plan_approve") for n in range(1, 50, 2)]
            racing = [x for pair in zip(forms, approvals, strict=True) for x in pair]
            statuses = await asyncio.gather(*(send(p, r) for p, r in racing))
            assert statuses == [200] * 50

            async def decided() -> bool:
                plan = await store.plans.current(session.id)
                return plan is not None and plan.status.value != "pending"

            await settled(decided, "decide the plan", running)
            await settled(lambda: _answered(fake, 50), "answer every decider", running)
        events = await store.events.newest(session.id, limit=500)
    finally:
        await store.close()
    decisions = [e for e in events if e.type.value in ("plan_approved", "plan_rejected")]
    assert len(decisions) == 1
    answers = [json.dumps(r.body) for n in range(50) for r in fake.responses_to(f"click-{n}")]
    losers = [a for a in answers if "was already" in a or "changed at the same moment" in a]
    assert len(answers) == 50 and len(losers) == 49, answers


async def _answered(fake: FakeSlackApi, clicks: int) -> bool:
    return sum(1 for n in range(clicks) if fake.responses_to(f"click-{n}")) == clicks


async def _plan_message(fake: FakeSlackApi, running: list[subprocess.Popen[bytes]]) -> Message:
    found: list[Message] = []

    async def posted() -> bool:
        found[:] = [m for m in fake.messages if any(b["type"] == "actions" for b in m.blocks or [])]
        return bool(found)

    await settled(posted, "post the plan message", running)
    return found[0]


async def _ports(folder: Path, running: list[subprocess.Popen[bytes]]) -> list[int]:
    """Each replica's HTTP port, from its log line `HTTP server on http://127.0.0.1:<port>`."""
    marker = "HTTP server on http://127.0.0.1:"
    ports: list[int] = []

    async def listening() -> bool:
        ports.clear()
        for i in range(len(running)):
            text = (folder / f"replica{i}.log").read_text(errors="replace")
            if marker in text:
                ports.append(int(text.split(marker, 1)[1].split()[0]))
        return len(ports) == len(running)

    await settled(listening, "start listening", running)
    return ports
