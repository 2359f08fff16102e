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
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.slack_clients import USERS, Plan, Tally, run_load
from bench.slack_floors import ANSWER, KINDS, start_floor
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET, slash_command_request

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-bench"
SEEDED = "bench session"  # session #1's name: every command's answer shows it
FLOOR_NAMES = {"aiohttp": "bare aiohttp handler", "bolt": "bare Bolt AsyncApp"}


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
        f"start {SEEDED}", response_url=f"{fake_url}/response/seed", user_id=USERS[0]
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
) -> float:
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
    per_request = cpu["bot"] / len(lat) * 1e6
    print(f"bot CPU per request: {per_request:.0f} µs")
    met = p99 <= 50 and not errors
    print(f"target p99 <= 50 ms, zero errors: {'met' if met else 'MISSED'}")
    return per_request


def _report_floor(kind: str, tally: Tally, args: argparse.Namespace, cpu: float) -> float:
    lat = sorted(tally.latencies)
    if not lat:
        raise SystemExit(f"floor {kind}: no successful requests; errors: {tally.errors}")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    errors = sum(tally.errors.values()) + tally.error_answers
    per_request = cpu / len(lat) * 1e6
    print(f"floor {FLOOR_NAMES[kind]}: {len(lat) / args.duration:.0f} req/s, "
          f"p50={statistics.median(lat) * 1000:.1f} ms p99={p99:.1f} ms, errors={errors}, "
          f"CPU {cpu / args.duration:.0%} of a core, {per_request:.0f} µs per request")  # fmt: skip
    return per_request


def _report_ratios(bot: float, floors: dict[str, float]) -> None:
    for kind, floor in floors.items():
        print(f"bot CPU per request / {FLOOR_NAMES[kind]}: {bot / floor:.2f}× "
              f"({bot:.0f} µs vs {floor:.0f} µs; the bot adds {bot - floor:.0f} µs)")  # fmt: skip
    print(f"target <= 400 µs of bot CPU per request: {'met' if bot <= 400 else 'MISSED'}")


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
    parser.add_argument(
        "--no-floors", action="store_true", help="skip the bare aiohttp and bare Bolt runs"
    )
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


def _start_loaders(
    args: argparse.Namespace, port: int, fake: _Fake, results: Any, expect: bytes | None
) -> list[Any]:
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
            expect=expect,
            cpus=_cpus(args, bot=False),
        )
        loaders.append(context.Process(target=run_load, args=(plan, results), daemon=True))
        loaders[-1].start()
    time.sleep(max(0.0, start_at - time.time()))
    return loaders


def _load(
    args: argparse.Namespace, pid: int, port: int, fake: _Fake, expect: bytes | None
) -> tuple[Tally, dict[str, float], float]:
    """Run the clients against the server `pid` on `port`: their tally, the CPU seconds each
    process used during the load, and how busy the whole machine was."""
    results = multiprocessing.get_context("spawn").Queue()
    loaders = _start_loaders(args, port, fake, results, expect)
    pids = {"bot": pid, "fake": fake.pid}
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
    return tally, cpu, busy / total


def _measure_bot(args: argparse.Namespace, fake: _Fake) -> float:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        port = _free_port()
        bot = _start_bot(fake.url, Path(tmp) / "sessions.db", port, _cpus(args, bot=True))
        try:
            bot_url = f"http://127.0.0.1:{port}"
            _wait_ready(bot_url)
            _seed(bot_url, fake.url)
            tally, cpu, busy = _load(args, bot.pid, port, fake, SEEDED.encode())
        finally:
            bot.terminate()
            bot.wait(timeout=15)
    stats = _settled_stats(fake.url, len(tally.latencies) - tally.answered_in_ack)
    return _report(tally, args, cpu, stats, busy)


def _measure_floor(args: argparse.Namespace, fake: _Fake, kind: str) -> float:
    port = _free_port()
    server = start_floor(kind, port, fake.url, TOKEN, _cpus(args, bot=True))
    try:
        _wait_ready(f"http://127.0.0.1:{port}")
        tally, cpu, _ = _load(args, server.pid, port, fake, ANSWER if kind == "aiohttp" else None)
    finally:
        server.terminate()
        server.wait(timeout=15)
    return _report_floor(kind, tally, args, cpu["bot"])


def main() -> None:
    args = _parse()
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    fake_process = context.Process(target=_run_fake, args=(ports,), daemon=True)
    fake_process.start()
    fake = _Fake(*ports.get(timeout=30))
    try:
        bot = _measure_bot(args, fake)
        if not args.no_floors:
            floors = {kind: _measure_floor(args, fake, kind) for kind in KINDS}
            _report_ratios(bot, floors)
    finally:
        fake_process.terminate()
        fake_process.join(timeout=5)


if __name__ == "__main__":
    main()
