"""SIGTERM to a real `sessionbot serve` in the middle of a burst of writing API requests.

Every request either completed or was cleanly turned away (connection refused or closed
before an answer), the process exits 0, the database passes `db check`, and every write the
API acknowledged with a 201 is in it. The logs are JSON lines all the way to "stopped".
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from core.clock import SystemClock
from core.models import Actor, ChatRef, Source
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.wiring import build_services
from tests.adapters.slack.harness import BOT_TOKEN, WORKSPACE
from tests.bot.test_serve import _free_port
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET, slash_command_request

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 24
SIGTERM_AFTER = 150  # acknowledged writes before the signal
MAX_PER_WORKER = 2_000  # a bound in case the bot never stopped


def _env(db: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_HTTP_PORT": str(port),
        "SESSIONBOT_LOG_LEVEL": "info",
        "SESSIONBOT_LOG_FORMAT": "json",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN"):
        env.pop(name, None)
    return env


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(db, 0) | {"SESSIONBOT_LOG_LEVEL": "warning"},
        timeout=60,
    )


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return 0.0


@dataclass
class Burst:
    acked: list[str] = field(default_factory=list)
    turned_away: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    enough: asyncio.Event = field(default_factory=asyncio.Event)


async def _worker(web: aiohttp.ClientSession, url: str, worker: int, burst: Burst) -> None:
    for n in range(MAX_PER_WORKER):
        content = f"w{worker}-n{n}"
        try:
            async with web.post(url, json={"role": "tool", "content": content}) as response:
                await response.read()
                if response.status == 201:
                    burst.acked.append(content)
                elif response.status == 429:  # the per-token rate limit: a clean refusal
                    burst.refused.append(content)
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                else:
                    burst.unexpected.append(f"{content}: HTTP {response.status}")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            # Refused, reset or closed before any answer: not acknowledged, and clean.
            burst.turned_away.append(f"{content}: {exc.__class__.__name__}")
            return
        except TimeoutError:
            burst.unexpected.append(f"{content}: no answer (timeout)")
            return
        if len(burst.acked) >= SIGTERM_AFTER:
            burst.enough.set()


async def _wait_healthy(
    web: aiohttp.ClientSession, base: str, bot: asyncio.subprocess.Process
) -> None:
    for _ in range(600):  # bounded polling while the process starts; not an assertion on time
        assert bot.returncode is None, "sessionbot serve exited at start"
        try:
            async with web.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("sessionbot serve never answered /healthz")


async def test_sigterm_during_a_request_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db, port = tmp_path / "burst.db", _free_port()
    made = _cli(db, "token", "create", "--workspace", "api:burst", "--name", "agent")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[0]
    assert token.startswith("sbt_")
    log = (tmp_path / "serve.log").open("w")
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=ROOT, env=_env(db, port), stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(force_close=True, limit=WORKERS)  # a connection per request
    timeout = aiohttp.ClientTimeout(total=30)
    burst = Burst()
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers
        ) as web:
            await _wait_healthy(web, base, bot)
            async with web.post(f"{base}/api/v1/sessions", json={"title": "Burst"}) as created:
                assert created.status == 201, await created.text()
                ref = (await created.json())["ref"]
            url = f"{base}/api/v1/sessions/{ref}/messages"
            workers = [asyncio.create_task(_worker(web, url, w, burst)) for w in range(WORKERS)]
            await asyncio.wait_for(burst.enough.wait(), timeout=60)
            async with web.get(f"{base}/metrics") as scraped:
                metrics = await scraped.text()
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
        code = await asyncio.wait_for(bot.wait(), timeout=15)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        log.close()

    assert code == 0
    assert burst.unexpected == []
    assert len(burst.acked) >= SIGTERM_AFTER
    assert (
        len(burst.turned_away) == WORKERS
    )  # every worker ran until the bot stopped taking requests

    route = "/api/v1/sessions/{session}/messages"
    assert _sample(metrics, "sessionbot_http_requests_total", route=route, status="201") > 0
    assert _sample(metrics, "sessionbot_db_operation_duration_seconds_count", operation="write")
    assert _sample(metrics, "sessionbot_sessions", status="active") == 1

    check = _cli(db, "db", "check")
    assert check.returncode == 0 and check.stdout.strip().endswith("ok"), check.stdout
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT content FROM messages")}
    assert sorted(set(burst.acked) - stored) == []
    assert sorted(set(burst.refused) & stored) == []  # a refusal changed nothing

    lines = (tmp_path / "serve.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"at", "level", "logger", "message"} <= set(e) for e in entries)
    messages = [e["message"] for e in entries]
    assert "shutting down" in messages and messages[-1] == "stopped"


async def _slack_worker(
    web: aiohttp.ClientSession, url: str, response_url: str, worker: int, burst: Burst
) -> None:
    for n in range(MAX_PER_WORKER):
        title = f"w{worker}-n{n}"
        signed = slash_command_request(
            f'start "{title}"', response_url=response_url, user_id=f"U0W{worker}"
        )
        try:
            async with web.post(url, data=signed.body, headers=signed.headers) as response:
                await response.read()
                if response.status == 200:
                    burst.acked.append(title)
                else:
                    burst.unexpected.append(f"{title}: HTTP {response.status}")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            burst.turned_away.append(f"{title}: {exc.__class__.__name__}")
            return
        except TimeoutError:
            burst.unexpected.append(f"{title}: no answer (timeout)")
            return
        if len(burst.acked) >= SIGTERM_AFTER:
            burst.enough.set()


async def test_sigterm_during_a_slack_command_burst_finishes_every_acknowledged_command(
    tmp_path: Path,
) -> None:
    """Slack commands are acknowledged first and run after: shutdown must let them finish."""
    db, port = tmp_path / "slack.db", _free_port()
    async with FakeSlackApi() as fake:
        env = _env(db, port) | {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
        }
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=ROOT,
            env=env,
            stderr=asyncio.subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        connector = aiohttp.TCPConnector(force_close=True, limit=WORKERS)
        burst = Burst()
        try:
            async with aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=30)
            ) as web:
                await _wait_healthy(web, base, bot)
                url, reply_to = f"{base}/slack/events", fake.response_url()
                workers = [
                    asyncio.create_task(_slack_worker(web, url, reply_to, w, burst))
                    for w in range(WORKERS)
                ]
                await asyncio.wait_for(burst.enough.wait(), timeout=60)
                bot.send_signal(signal.SIGTERM)
                await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
            code = await asyncio.wait_for(bot.wait(), timeout=15)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()

    assert code == 0
    assert burst.unexpected == []
    assert len(burst.turned_away) == WORKERS
    check = _cli(db, "db", "check")
    assert check.returncode == 0 and check.stdout.strip().endswith("ok"), check.stdout
    with sqlite3.connect(db) as conn:
        titles = {row[0].strip('"') for row in conn.execute("SELECT title FROM sessions")}
    assert sorted(set(burst.acked) - titles) == []


async def _one_notice(db: Path, actor: Actor, chat: ChatRef) -> None:
    """A database holding one session, whose card waits in the outbox for its platform."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        services = build_services(store, clock=SystemClock(), config=ServiceConfig())
        await services.sessions.start(actor, chat, "deploy")
    finally:
        await store.close()


async def _one_slack_notice(db: Path) -> None:
    await _one_notice(
        db, Actor(WORKSPACE, "UOWNER", Source.SLACK), ChatRef("slack", WORKSPACE, "C0001")
    )


@asynccontextmanager
async def _slack_never_answering(
    db: Path, port: int
) -> AsyncIterator[tuple[dict[str, str], asyncio.Event]]:
    """Fake Slack whose chat.postMessage hangs until the block ends: serve's environment, and
    an event set once a post has arrived."""
    posting, release = asyncio.Event(), asyncio.Event()

    async def never_answers(params: dict[str, object]) -> dict[str, object]:
        posting.set()
        await release.wait()
        return {"ok": False, "error": "fatal_error"}

    async with FakeSlackApi() as fake:
        fake.set_handler("chat.postMessage", never_answers)
        env = _env(db, port) | {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
            "SLACK_API_URL": fake.base_url,
        }
        try:
            yield env, posting
        finally:
            release.set()


@asynccontextmanager
async def serving(env: dict[str, str], log_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`sessionbot serve` logging to `log_path`; killed if still running when the block ends."""
    with log_path.open("w") as log:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env, stderr=log
        )
        try:
            yield bot
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()


async def _shutdown_begun(log_path: Path) -> None:
    for _ in range(400):  # bounded polling until serve has logged it
        if "shutting down" in await asyncio.to_thread(log_path.read_text):
            return
        await asyncio.sleep(0.01)


async def test_sigterm_while_slack_never_answers_a_delivery_exits_0_and_keeps_the_row(
    tmp_path: Path,
) -> None:
    """A delivery hanging on the platform (which may take the client's 30 s timeout) has a
    bounded grace at shutdown: the process exits 0 and the row stays due for a later retry."""
    db, port = tmp_path / "hang.db", _free_port()
    await _one_slack_notice(db)
    async with (
        _slack_never_answering(db, port) as (env, posting),
        serving(env, tmp_path / "serve.log") as bot,
    ):
        await asyncio.wait_for(posting.wait(), timeout=60)
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.wait(), timeout=20)  # below the client's 30 s

    assert code == 0
    entries = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    assert entries[-1]["message"] == "stopped"
    assert not any("Traceback" in json.dumps(e) for e in entries)
    with sqlite3.connect(db) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM outbox")]
    assert statuses == ["pending"]  # neither delivered nor given up: retried after its lease


async def test_a_second_sigterm_while_stopping_exits_at_once_with_1(tmp_path: Path) -> None:
    """The first signal starts the ordered shutdown (here held by a delivery in its grace);
    a second one ends the process at once, non-zero, after one log line saying so."""
    db, port, log_path = tmp_path / "twice.db", _free_port(), tmp_path / "serve.log"
    await _one_slack_notice(db)
    async with (
        _slack_never_answering(db, port) as (env, posting),
        serving(env, log_path) as bot,
    ):
        await asyncio.wait_for(posting.wait(), timeout=60)
        bot.send_signal(signal.SIGTERM)
        await _shutdown_begun(log_path)
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.wait(), timeout=20)

    assert code == 1
    messages = [json.loads(line)["message"] for line in log_path.read_text().splitlines()]
    assert "shutting down" in messages
    assert messages[-1] == "SIGTERM received again while stopping: exiting now"
    assert "stopped" not in messages


async def test_sigterm_lets_a_discord_delivery_in_progress_finish_before_the_client_closes(
    tmp_path: Path,
) -> None:
    """The outbox's grace comes before the adapters stop: a post already sent completes
    through the still-open client and the row is delivered, not failed by a closing client."""
    db, port, log_path = tmp_path / "discord.db", _free_port(), tmp_path / "serve.log"
    async with FakeDiscord(token="a-token") as fake:
        workspace = f"discord:{fake.guild.id}"
        actor = Actor(workspace, str(fake.guild.admin.id), Source.DISCORD)
        await _one_notice(db, actor, ChatRef("discord", workspace, str(fake.guild.text_channel.id)))
        reached, release = fake.hold_next("/channels/*/messages", method="POST")
        env = _env(db, port) | {
            "DISCORD_TOKEN": "a-token",
            "DISCORD_API_URL": fake.rest_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
        }
        try:
            async with serving(env, log_path) as bot:
                await asyncio.wait_for(reached.wait(), timeout=60)
                bot.send_signal(signal.SIGTERM)
                await _shutdown_begun(log_path)
                release.set()
                code = await asyncio.wait_for(bot.wait(), timeout=30)
        finally:
            release.set()

    assert code == 0
    with sqlite3.connect(db) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM outbox")]
    assert statuses == ["delivered"]
