"""Slack slash-command load (SPEC §14): signed `/session list|show` → ack latency over HTTP.

Three processes on loopback: the fake Slack Web API (tests/fakes), the real bot started as
`python -m bot serve` (HTTP mode, SQLite file, SLACK_API_URL → the fake), and this load
generator: `--clients` concurrent clients, each sending one signed request at a time for
`--duration` seconds. Prints ack latency p50/p99, throughput, HTTP errors, and how many
replies reached the fake's response_url (with how many were error replies).

    python -m bench.slack_load [--duration 20] [--clients 100] [--interval 0] [--dir /tmp]

`--interval 0` (the default) is a closed loop: each client sends its next request as soon as
the previous one is acked, which saturates the bot; `--interval 0.5` paces each client.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET, slash_command_request

ROOT = Path(__file__).resolve().parents[1]
USERS = [f"U0LOAD{n:03d}" for n in range(20)]
TOKEN = "xoxb-bench"


class _TimedFake(FakeSlackApi):
    """The fake Web API, noting when each response_url post arrives (for reply latency)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[tuple[str, float]] = []
        self.set_handler("bench.stats", self.stats)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        self.arrived.append((request.match_info["response_id"], time.time()))
        return await super()._handle_response_url(request)

    def stats(self, params: dict[str, Any]) -> dict[str, Any]:
        errors = sum(1 for r in self.responses if "⚠" in (r.text or ""))
        delays = [at - float(rid.split("-", 1)[1]) for rid, at in self.arrived if "-" in rid]
        return {"ok": True, "replies": len(delays), "error_replies": errors, "delays": delays}


def _run_fake(ports: Any) -> None:
    """Child process: serve the fake Web API (plus a `bench.stats` method) until killed."""

    async def serve() -> None:
        fake = _TimedFake()
        await fake.start()
        ports.put(fake.root_url)
        await asyncio.Event().wait()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_bot(fake_url: str, db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{db}",
        "SESSIONBOT_HTTP_HOST": "127.0.0.1",
        "SESSIONBOT_HTTP_PORT": str(port),
        "SESSIONBOT_LOG_LEVEL": "warning",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "SLACK_API_URL": f"{fake_url}/api/",
    }
    env.pop("SLACK_APP_TOKEN", None)
    profile = ["-m", "cProfile", "-o", env["BENCH_PROFILE"]] if env.get("BENCH_PROFILE") else []
    return subprocess.Popen([sys.executable, *profile, "-m", "bot", "serve"], cwd=ROOT, env=env)


async def _wait_ready(http: ClientSession, base: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the bot did not become ready")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    interval: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _client(
    http: ClientSession, url: str, fake_url: str, until: float, tally: Tally, ids: Any
) -> None:
    await asyncio.sleep(random.random() * tally.interval)  # spread paced clients out
    while time.monotonic() < until:
        if tally.interval:
            await asyncio.sleep(tally.interval)
        text = random.choice(["list", "list all", "show 1"])
        request = slash_command_request(
            text,
            response_url=f"{fake_url}/response/r{next(ids)}-{time.time():.6f}",
            user_id=random.choice(USERS),
        )
        started = time.perf_counter()
        try:
            async with http.post(url, data=request.body, headers=request.headers) as resp:
                await resp.read()
                status = resp.status
        except (OSError, TimeoutError) as exc:
            tally.error(exc.__class__.__name__)
            continue
        elapsed = time.perf_counter() - started
        if status != 200:
            tally.error(f"HTTP {status}")
            continue
        tally.latencies.append(elapsed)


async def _fake_stats(http: ClientSession, fake_url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.get(f"{fake_url}/api/bench.stats", headers=headers) as resp:
        return dict(await resp.json())


async def _settled_stats(http: ClientSession, fake_url: str, acked: int) -> dict[str, Any]:
    """The fake's stats once every acked command was answered (or replies stop coming)."""
    stats = await _fake_stats(http, fake_url)
    for _ in range(300):
        if stats["replies"] >= acked:
            break
        await asyncio.sleep(0.1)
        stats = await _fake_stats(http, fake_url)
    return stats


async def _load(
    fake_url: str, bot_url: str, clients: int, duration: float, interval: float
) -> None:
    connector = TCPConnector(limit=clients + 10)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=10)) as http:
        await _wait_ready(http, bot_url)
        seed = slash_command_request(
            "start bench session", response_url=f"{fake_url}/response/seed", user_id=USERS[0]
        )
        async with http.post(f"{bot_url}/slack/events", data=seed.body, headers=seed.headers):
            pass
        tally, ids = Tally(interval=interval), itertools.count()
        until = time.monotonic() + duration
        url = f"{bot_url}/slack/events"
        started = time.monotonic()
        await asyncio.gather(
            *(_client(http, url, fake_url, until, tally, ids) for _ in range(clients))
        )
        elapsed = time.monotonic() - started
        stats = await _settled_stats(http, fake_url, len(tally.latencies))
    _report(tally, elapsed, clients, stats)


def _report(tally: Tally, elapsed: float, clients: int, stats: dict[str, Any]) -> None:
    lat = sorted(tally.latencies)
    if not lat:
        raise SystemExit(f"no successful requests; errors: {tally.errors}")
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(f"clients={clients} interval={tally.interval}s duration={elapsed:.1f}s "
          f"requests={len(lat)} throughput={len(lat) / elapsed:.0f} req/s")  # fmt: skip
    print(f"ack latency p50={p50:.1f} ms p99={p99:.1f} ms max={lat[-1] * 1000:.1f} ms")
    print(f"errors={sum(tally.errors.values())} {tally.errors or ''}")
    delays = sorted(stats["delays"])
    if delays:
        r50, r99 = statistics.median(delays) * 1000, delays[int(len(delays) * 0.99)] * 1000
        print(f"replies via response_url={len(delays)}/{len(lat)} "
              f"(error replies: {stats['error_replies']}); "
              f"command → reply latency p50={r50:.0f} ms p99={r99:.0f} ms")  # fmt: skip
    print(
        f"target p99 <= 50 ms, zero errors: {'met' if p99 <= 50 and not tally.errors else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument(
        "--interval", type=float, default=0.0, help="pause between one client's requests (s)"
    )
    parser.add_argument("--dir", default=None, help="where to put the database file")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    fake = context.Process(target=_run_fake, args=(ports,), daemon=True)
    fake.start()
    fake_url = ports.get(timeout=30)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        port = _free_port()
        bot = _start_bot(fake_url, Path(tmp) / "sessions.db", port)
        try:
            bot_url = f"http://127.0.0.1:{port}"
            asyncio.run(_load(fake_url, bot_url, args.clients, args.duration, args.interval))
        finally:
            bot.terminate()
            bot.wait(timeout=15)
            fake.terminate()
            fake.join(timeout=5)


if __name__ == "__main__":
    main()
