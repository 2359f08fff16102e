"""Slack slash-command load (SPEC §14): signed `/session list|show` → ack latency over HTTP.

Separate processes on loopback: the fake Slack Web API (tests/fakes), the real bot started as
`python -m bot serve` (HTTP mode, SQLite file, SLACK_API_URL → the fake), and `--processes`
load generators sharing `--clients` concurrent clients. Each client keeps one keep-alive
connection and sends one signed request at a time for `--duration` seconds, written and read
with plain asyncio streams: an HTTP client library would cost more CPU per request than the
bot's handler, on the same two cores, and its queueing would be counted as ack latency.

Prints ack latency p50/p99, throughput, errors, how the answers came back (in the ack body or
through the response_url) and the CPU each process used.

    python -m bench.slack_load [--duration 20] [--clients 100] [--processes 2] [--interval 0]
                               [--pin]

`--interval 0` (the default) is a closed loop: each client sends its next request as soon as
the previous one is acked, which saturates the bot; `--interval 0.5` paces each client.
`--pin` keeps the bot's process on CPU 0 and the load on the others. The bot is one event loop
plus SQLite threads handing work to each other; on a VM where waking a halted virtual CPU costs
100-200 µs (this one), those hand-offs cost about a third of the bot's CPU per request when the
threads sit on different CPUs (`taskset -c 0 sessionbot serve` does the same in production).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET, slash_command_request

ROOT = Path(__file__).resolve().parents[1]
USERS = [f"U0LOAD{n:03d}" for n in range(20)]
COMMANDS = ["list", "list all", "show 1"]
TOKEN = "xoxb-bench"
ERROR_MARK = "⚠".encode()  # the renderer's error title


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
        return {
            "ok": True,
            "replies": len(delays),
            "error_replies": errors,
            "delays": delays,
            "auth_test": len(self.calls_to("auth.test")),
            "users_info": len(self.calls_to("users.info")),
        }


def _run_fake(ports: Any) -> None:
    """Child process: serve the fake Web API (plus a `bench.stats` method) until killed."""

    async def serve() -> None:
        fake = _TimedFake()
        await fake.start()
        ports.put((fake.root_url, os.getpid()))
        await asyncio.Event().wait()

    asyncio.run(serve())


# -- the load generator (child processes) -------------------------------------------------------


@dataclass
class Tally:
    """One load process's results."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answered_in_ack: int = 0
    error_answers: int = 0
    cpu: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.answered_in_ack += other.answered_in_ack
        self.error_answers += other.error_answers
        self.cpu += other.cpu


@dataclass(frozen=True)
class Plan:
    """What one load process does."""

    port: int
    fake_url: str
    clients: int
    start_at: float  # time.time() at which every process starts
    duration: float
    interval: float
    first_id: int
    cpus: frozenset[int] | None  # where this process may run (None: anywhere)


def _http_request(text: str, request_id: str, fake_url: str) -> bytes:
    signed = slash_command_request(
        text,
        response_url=f"{fake_url}/response/{request_id}",
        user_id=random.choice(USERS),
        trigger_id=f"{request_id}.bench",  # unique across load processes
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in signed.headers.items())
    return (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(signed.body)}\r\n{head}\r\n"
    ).encode() + signed.body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; the response's status and body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line[15:]) for line in lines if line[:15].lower() == b"content-length:"), 0)
    return int(lines[0].split(b" ", 2)[1]), await reader.readexactly(length)


async def _client(plan: Plan, until: float, tally: Tally, ids: Any) -> None:
    await asyncio.sleep(random.random() * plan.interval)  # spread paced clients out
    reader, writer = await asyncio.open_connection("127.0.0.1", plan.port)
    try:
        while time.monotonic() < until:
            if plan.interval:
                await asyncio.sleep(plan.interval)
            rid = f"r{next(ids)}-{time.time():.6f}"
            request = _http_request(random.choice(COMMANDS), rid, plan.fake_url)
            started = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                tally.error(exc.__class__.__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", plan.port)
                continue
            elapsed = time.perf_counter() - started
            if status != 200:
                tally.error(f"HTTP {status}")
                continue
            tally.latencies.append(elapsed)
            tally.answered_in_ack += bool(body)
            tally.error_answers += ERROR_MARK in body
    finally:
        writer.close()


async def _generate(plan: Plan) -> Tally:
    tally, ids = Tally(), itertools.count(plan.first_id)
    await asyncio.sleep(max(0.0, plan.start_at - time.time()))
    until = time.monotonic() + plan.duration
    cpu = time.process_time()
    await asyncio.gather(*(_client(plan, until, tally, ids) for _ in range(plan.clients)))
    tally.cpu = time.process_time() - cpu
    return tally


def _run_load(plan: Plan, results: Any) -> None:
    """Child process: one share of the clients, on a plain asyncio event loop (no uvloop)."""
    if plan.cpus is not None:
        os.sched_setaffinity(0, plan.cpus)
    results.put(asyncio.run(_generate(plan)))


# -- the parent: start everything, collect, report -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_bot(
    fake_url: str, db: Path, port: int, cpus: frozenset[int] | None
) -> subprocess.Popen[bytes]:
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
    bot = subprocess.Popen([sys.executable, *profile, "-m", "bot", "serve"], cwd=ROOT, env=env)
    if cpus is not None:  # before it starts its threads, which inherit the mask
        os.sched_setaffinity(bot.pid, cpus)
    return bot


def _wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise SystemExit("the bot did not become ready")


def _post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return bytes(resp.read())


def _seed(bot_url: str, fake_url: str) -> None:
    """Session #1, so that `show 1` finds something."""
    seed = slash_command_request(
        "start bench session", response_url=f"{fake_url}/response/seed", user_id=USERS[0]
    )
    _post(f"{bot_url}/slack/events", seed.body, seed.headers)


def _fake_stats(fake_url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    request = urllib.request.Request(f"{fake_url}/api/bench.stats", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _settled_stats(fake_url: str, expected: int) -> dict[str, Any]:
    """The fake's stats once every command not answered in its ack was answered (bounded)."""
    stats = _fake_stats(fake_url)
    deadline = time.monotonic() + 30
    while stats["replies"] < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = _fake_stats(fake_url)
    return stats


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _report(
    tally: Tally,
    args: argparse.Namespace,
    cpu: dict[str, float],
    stats: dict[str, Any],
    machine_busy: float,
) -> None:
    lat = sorted(tally.latencies)
    if not lat:
        raise SystemExit(f"no successful requests; errors: {tally.errors}")
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    errors = sum(tally.errors.values()) + tally.error_answers
    print(f"clients={args.clients} processes={args.processes} interval={args.interval}s "
          f"duration={args.duration:.1f}s requests={len(lat)} "
          f"throughput={len(lat) / args.duration:.0f} req/s")  # fmt: skip
    print(f"ack latency p50={p50:.1f} ms p99={p99:.1f} ms max={lat[-1] * 1000:.1f} ms")
    print(f"errors={errors} {tally.errors or ''} (error answers: {tally.error_answers})")
    print(f"answered in the ack body: {tally.answered_in_ack}/{len(lat)}; "
          f"through the response_url: {stats['replies']}")  # fmt: skip
    delays = sorted(stats["delays"])
    if delays:
        r50, r99 = statistics.median(delays) * 1000, delays[int(len(delays) * 0.99)] * 1000
        print(f"  response_url answers: command → reply p50={r50:.0f} ms p99={r99:.0f} ms "
              f"(error replies: {stats['error_replies']})")  # fmt: skip
    print(f"Web API calls by the bot: auth.test {stats['auth_test']}, "
          f"users.info {stats['users_info']} (for {len(USERS)} users)")  # fmt: skip
    share = ", ".join(f"{name} {sec / args.duration:.0%}" for name, sec in cpu.items())
    print(f"CPU (of one core) during the load: {share}; "
          f"the whole machine was {machine_busy:.0%} busy ({os.cpu_count()} cores)")  # fmt: skip
    print(f"bot CPU per request: {cpu['bot'] / len(lat) * 1e6:.0f} µs")
    met = p99 <= 50 and not errors
    print(f"target p99 <= 50 ms, zero errors: {'met' if met else 'MISSED'}")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--interval", type=float, default=0.0, help="pause between one client's requests (s)"
    )
    parser.add_argument(
        "--pin", action="store_true", help="the bot on CPU 0, the load processes on the others"
    )
    parser.add_argument("--dir", default=None, help="where to put the database file")
    return parser.parse_args()


@dataclass(frozen=True)
class _Fake:
    url: str
    pid: int


def _cpus(args: argparse.Namespace, *, bot: bool) -> frozenset[int] | None:
    """With --pin: CPU 0 for the bot, the other CPUs for the load processes."""
    if not args.pin:
        return None
    every = sorted(os.sched_getaffinity(0))
    return frozenset(every[:1] if bot else every[1:] or every)


def _start_loaders(args: argparse.Namespace, port: int, fake: _Fake, results: Any) -> list[Any]:
    """The load processes, all set to start at the same moment, 2 s from now."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    shares = [args.clients // args.processes] * args.processes
    shares[0] += args.clients - sum(shares)
    loaders = []
    for n, clients in enumerate(shares):
        plan = Plan(
            port,
            fake.url,
            clients,
            start_at,
            args.duration,
            args.interval,
            first_id=n * 10**8,
            cpus=_cpus(args, bot=False),
        )
        loaders.append(context.Process(target=_run_load, args=(plan, results), daemon=True))
        loaders[-1].start()
    time.sleep(max(0.0, start_at - time.time()))
    return loaders


def _load(args: argparse.Namespace, bot: subprocess.Popen[bytes], port: int, fake: _Fake) -> None:
    results = multiprocessing.get_context("spawn").Queue()
    loaders = _start_loaders(args, port, fake, results)
    pids = {"bot": bot.pid, "fake": fake.pid}
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    machine = _machine_ticks()
    time.sleep(args.duration)
    cpu = {name: _cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    busy, total = (now - then for now, then in zip(_machine_ticks(), machine, strict=True))
    tally = Tally()
    for _ in loaders:
        tally.merge(results.get(timeout=60))
    for loader in loaders:
        loader.join(timeout=10)
    cpu["load generators"] = tally.cpu
    stats = _settled_stats(fake.url, len(tally.latencies) - tally.answered_in_ack)
    _report(tally, args, cpu, stats, busy / total)


def main() -> None:
    args = _parse()
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    fake_process = context.Process(target=_run_fake, args=(ports,), daemon=True)
    fake_process.start()
    fake = _Fake(*ports.get(timeout=30))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        port = _free_port()
        bot = _start_bot(fake.url, Path(tmp) / "sessions.db", port, _cpus(args, bot=True))
        try:
            bot_url = f"http://127.0.0.1:{port}"
            _wait_ready(bot_url)
            _seed(bot_url, fake.url)
            _load(args, bot, port, fake)
        finally:
            bot.terminate()
            bot.wait(timeout=15)
            fake_process.terminate()
            fake_process.join(timeout=5)


if __name__ == "__main__":
    main()
