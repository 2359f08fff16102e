"""Agents waiting on their requests (issue 15, Performance): wake-up latency and memory.

`--waiters` agents (1,000 by default) each create a session and an action request through the
REST API and park a long-poll, `GET /api/v1/requests/{id}?wait=60`, each on its own aiohttp
connection with its own token, from one of several loopback addresses (127.0.x.y, 20 agents
each: the API lets one client address have at most 30 authentications in flight, as 1,000
agents on one machine starting at once would find). Once every one is parked, approvers (admin
tokens, each from its own address) decide the requests in random order through
`POST /api/v1/requests/{id}/decision`, paced at `--rate` decisions per second. Measured:

- from the decision's commit to the waiter's response (p50/p99/max; target p99 ≤ 50 ms). The
  commit is stamped inside the deciding server process, by a listener on the store's wake-ups
  (`Store.on_wake`, the same call that wakes the waiters, right after the commit: on SQLite one
  hop from the writer thread to the event loop later, on PostgreSQL when COMMIT returned); the
  response is stamped when the agent's client has read it. Both are wall-clock times of one
  machine. The same from the moment the decision POST returned to its approver is printed too
  (negative when the waiter heard first);
- the server process's RSS (`VmRSS`) before the waiters connect and with all of them parked
  (target growth ≤ 50 MB), and its CPU while they sit parked with nothing decided;
- yardstick: a plain `GET /requests/{id}` (no wait) on the same server while they are parked.

Servers: real sessionbot HTTP servers, each in its own process on 127.0.0.1, built as `serve`
builds one (`open_core`, the API mounted with the environment's limits, outbox delivery and the
scheduler running) plus one bench-only route that reports the parked waiters and the commit
stamps. SQLite: one process on a file. PostgreSQL: a real server started as tests/pg.py does
(fsync on) and two replicas on one database: waiters on B, decisions on A, B woken by
LISTEN/NOTIFY.

    python -m bench.wait_bench [--waiters 1000] [--backend sqlite|postgres|both] [--rate 50]
                               [--dir /tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import random
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.api import mount_api
from bot.app import api_config, job_scheduler, open_core
from bot.config import load_config
from bot.http import HttpServer
from core.clock import SystemClock
from core.store import wakes
from core.store.factory import open_store
from core.tokens import TokenService
from tests.pg import bench_database

WS = "api:bench"
WAIT = 60  # seconds each long-poll may wait: every decision comes well before
BOUND = 120.0  # seconds any phase of the bench may take before it gives up
PER_APPROVER = 10  # decisions per second per approver token and address (the API allows 50)
SETUP_TASKS = 50
AGENTS_PER_ADDRESS = 20  # below the API's 30 authentications in flight per client address
PROBE = "/bench/probe"
APPROVE = {"decision": "approve"}


# -- the server process -------------------------------------------------------------------------


def _serve(url: str, ports: Any) -> None:
    """Child process: a sessionbot HTTP server on `url` until SIGTERM."""

    async def run() -> None:
        config = load_config({"SESSIONBOT_DATABASE_URL": url, "SESSIONBOT_HTTP_PORT": "0"})
        core = await open_core(config)
        committed: dict[str, float] = {}

        def stamp(keys: frozenset[str]) -> None:
            now = time.time()
            for request_id in wakes.ids(keys, "request"):
                committed.setdefault(request_id, now)

        core.store.on_wake(stamp)

        async def probe(_: web.Request) -> web.Response:
            parked = len(core.services.requests.waiters)
            outbox = (await core.store.outbox.counts())["pending"]
            return web.json_response({"parked": parked, "outbox": outbox, "committed": committed})

        http = HttpServer("127.0.0.1", 0)
        mount_api(http.app, core.services, config=api_config(config))
        http.app.router.add_get(PROBE, probe)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        delivering = asyncio.create_task(core.dispatcher.run_forever(stop))
        scheduler = job_scheduler(config, core)
        await scheduler.start()
        await http.start()
        gc.freeze()  # as `serve` does once started
        ports.put(http.port)
        await stop.wait()
        await http.stop()
        await scheduler.stop()
        core.dispatcher.wake()
        await delivering
        await core.close()

    asyncio.run(run())


@dataclass
class Server:
    process: multiprocessing.process.BaseProcess
    base: str  # http://127.0.0.1:port

    @property
    def api(self) -> str:
        return self.base + "/api/v1"

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) / 1024

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.is_alive() and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


@contextlib.asynccontextmanager
async def servers(url: str, count: int) -> AsyncIterator[list[Server]]:
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    started: list[Server] = []
    try:
        for _ in range(count):
            process = context.Process(target=_serve, args=(url, ports), daemon=True)
            process.start()
            port = await asyncio.to_thread(ports.get, timeout=BOUND)
            started.append(Server(process, f"http://127.0.0.1:{port}"))
        yield started
    finally:
        for server in started:
            await asyncio.to_thread(server.stop)


# -- the agents and the approvers ---------------------------------------------------------------


@dataclass
class People:
    agents: list[str]  # one token per agent
    approvers: list[str]  # admin tokens


async def make_tokens(url: str, agents: int, approvers: int) -> People:
    store = open_store(url)
    await store.open()
    try:
        tokens = TokenService(store.tokens, clock=SystemClock())

        async def make(name: str, admin: bool) -> str:
            return (await tokens.create(WS, name, admin=admin))[1]

        made = await _gather(
            [make(f"agent{i}", False) for i in range(agents)]
            + [make(f"approver{i}", True) for i in range(approvers)]
        )
        return People(made[:agents], made[agents:])
    finally:
        await store.close()


async def _gather(works: Iterable[Awaitable[Any]], tasks: int = SETUP_TASKS) -> list[Any]:
    """Every work's result, in order, at most `tasks` at once."""
    gate = asyncio.Semaphore(tasks)

    async def one(work: Awaitable[Any]) -> Any:
        async with gate:
            return await work

    return list(await asyncio.gather(*(one(w) for w in works)))


@contextlib.asynccontextmanager
async def clients_from(addresses: int) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """HTTP clients, each from its own loopback address, without a cap on connections."""
    timeout = aiohttp.ClientTimeout(total=WAIT + BOUND)
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for n in range(addresses):
            address = f"127.0.{1 + n // 250}.{1 + n % 250}"
            connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
            client = aiohttp.ClientSession(timeout=timeout, connector=connector)
            clients.append(await stack.enter_async_context(client))
        yield clients


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> Any:
    async with http.request(method, url, json=body, headers=_auth(token)) as response:
        found = await response.json()
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {found}")
        return found


async def ask(http: aiohttp.ClientSession, api: str, token: str, n: int) -> str:
    """An agent's session and its action request; the request's id."""
    session = await _call(http, "POST", f"{api}/sessions", token, {"title": f"agent run {n}"})
    body = {
        "action": "deploy",
        "args": {"service": f"svc{n}", "version": "1.2"},
        "summary": "Ship it",
        "expires_in": "1h",
    }
    made = await _call(http, "POST", f"{api}/sessions/{session['ref']}/requests", token, body)
    return str(made["id"])


@dataclass
class Waited:
    status: int = 0
    state: str = ""
    at: float = 0.0  # when the agent had read the response
    rounds: int = 1  # long-polls it took


async def wait_for(http: aiohttp.ClientSession, api: str, token: str, request_id: str) -> Waited:
    """Long-poll until the request is settled, asking again while it is pending (as an agent
    does when a wait runs out)."""
    url = f"{api}/requests/{request_id}?wait={WAIT}"
    waited = Waited(rounds=0)
    while waited.rounds == 0 or waited.state == "pending":
        async with http.get(url, headers=_auth(token)) as response:
            raw = await response.read()
            waited.at = time.time()
        waited.status, waited.rounds = response.status, waited.rounds + 1
        waited.state = json.loads(raw).get("status", "") if response.status == 200 else ""
    return waited


async def probe(http: aiohttp.ClientSession, server: Server) -> dict[str, Any]:
    async with http.get(server.base + PROBE) as response:
        return dict(await response.json())


async def until(
    http: aiohttp.ClientSession, server: Server, reached: Callable[[Any], bool]
) -> float:
    """Seconds until the server's probe shows `reached` (it is in another process)."""
    began = time.perf_counter()
    async with asyncio.timeout(BOUND):
        while not reached(await probe(http, server)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return time.perf_counter() - began


def parked(count: int) -> Callable[[Any], bool]:
    return lambda found: bool(found["parked"] >= count)


def delivered(found: Any) -> bool:
    """The notices of the set-up (posts of the requests) are out: the server is quiet."""
    return bool(found["outbox"] == 0)


async def decide_all(
    approvers: list[tuple[aiohttp.ClientSession, str]], api: str, ids: list[str], rate: float
) -> tuple[dict[str, float], list[float]]:
    """Approve every request, one every 1/rate s, round the approvers (each from its own
    address); when each decision POST returned, and how long each took."""
    returned: dict[str, float] = {}
    took: list[float] = []
    began = time.perf_counter()

    async def decide(n: int, request_id: str) -> None:
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        http, token = approvers[n % len(approvers)]
        sent = time.perf_counter()
        await _call(http, "POST", f"{api}/requests/{request_id}/decision", token, APPROVE)
        took.append(time.perf_counter() - sent)
        returned[request_id] = time.time()

    await asyncio.gather(*(decide(n, r) for n, r in enumerate(ids)))
    return returned, took


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    waiters: int
    rate: float
    parked_in: float = 0.0
    rss_before: float = 0.0
    rss_parked: float = 0.0
    idle_cpu: float = 0.0  # share of one core while parked, nothing decided
    plain: list[float] = field(default_factory=list)  # seconds
    posts: list[float] = field(default_factory=list)  # each decision POST's round trip
    from_commit: list[float] = field(default_factory=list)
    from_post: list[float] = field(default_factory=list)
    heard: list[float] = field(default_factory=list)  # commit on A → wake-up on B (PostgreSQL)
    failed: int = 0
    again: int = 0  # waiters whose first long-poll ran out before their decision
    decide_cpu: float = 0.0  # server CPU seconds (both replicas) over the decisions
    load: tuple[float, ...] = ()  # the machine's load average (1 min) before and after the run


async def run(url: str, backend: str, waiters: int, rate: float) -> Figures:
    replicas = 2 if backend == "postgres" else 1
    people = await make_tokens(url, waiters + 1, max(1, math.ceil(rate / PER_APPROVER)))
    figures = Figures(backend, waiters, rate, load=os.getloadavg()[:1])
    agent_addresses = math.ceil((waiters + 1) / AGENTS_PER_ADDRESS)
    timeout = aiohttp.ClientTimeout(total=WAIT + BOUND)
    async with (
        servers(url, replicas) as started,
        aiohttp.ClientSession(timeout=timeout) as http,
        clients_from(agent_addresses + len(people.approvers)) as clients,
        contextlib.AsyncExitStack() as stack,  # left first: cancels the waits of a failed run
    ):
        deciding, waiting = started[0], started[-1]
        approvers = list(zip(clients[agent_addresses:], people.approvers, strict=True))

        def client(n: int) -> aiohttp.ClientSession:
            return clients[n // AGENTS_PER_ADDRESS]

        made = [ask(client(n), deciding.api, t, n) for n, t in enumerate(people.agents)]
        ids = await _gather(made)  # the last agent warms the wait path up first
        await _warm_up(http, waiting, deciding, people, ids.pop())
        await until(http, deciding, delivered)
        figures.rss_before = waiting.rss_mb()
        pending = [
            asyncio.create_task(wait_for(client(n), waiting.api, people.agents[n], request_id))
            for n, request_id in enumerate(ids)
        ]
        stack.callback(lambda: [task.cancel() for task in pending])
        figures.parked_in = await until(http, waiting, parked(waiters))
        figures.rss_parked = waiting.rss_mb()
        cpu = waiting.cpu_seconds()
        await asyncio.sleep(2.0)
        figures.idle_cpu = (waiting.cpu_seconds() - cpu) / 2.0
        figures.plain = await _plain_gets(http, waiting, people.agents[0], ids[0])
        order = random.sample(ids, len(ids))
        cpu = sum(s.cpu_seconds() for s in started)
        returned, figures.posts = await decide_all(approvers, deciding.api, order, rate)
        async with asyncio.timeout(BOUND):
            got = await asyncio.gather(*pending)
        await until(http, deciding, delivered)  # the messages' updates count too
        figures.decide_cpu = sum(s.cpu_seconds() for s in started) - cpu
        figures.load += os.getloadavg()[:1]
        committed = (await probe(http, deciding))["committed"]
        heard = (await probe(http, waiting))["committed"] if replicas > 1 else committed
    figures.again = sum(1 for answer in got if answer.rounds > 1)
    for request_id, answer in zip(ids, got, strict=True):
        if answer.status != 200 or answer.state != "approved":
            figures.failed += 1
            continue
        figures.from_commit.append(answer.at - committed[request_id])
        figures.from_post.append(answer.at - returned[request_id])
        if replicas > 1:
            figures.heard.append(heard[request_id] - committed[request_id])
    return figures


async def _warm_up(
    http: aiohttp.ClientSession, waiting: Server, deciding: Server, people: People, spare: str
) -> None:
    """One wait and decision first, so the figures hold no first-use costs (imports, caches)."""
    agent = people.agents[-1]
    waiter = asyncio.create_task(wait_for(http, waiting.api, agent, spare))
    await until(http, waiting, parked(1))
    url = f"{deciding.api}/requests/{spare}/decision"
    await _call(http, "POST", url, people.approvers[0], APPROVE)
    await waiter
    await _plain_gets(http, waiting, agent, spare)


async def _plain_gets(
    http: aiohttp.ClientSession, server: Server, token: str, request_id: str, count: int = 100
) -> list[float]:
    took = []
    for _ in range(count):
        began = time.perf_counter()
        await _call(http, "GET", f"{server.api}/requests/{request_id}", token)
        took.append(time.perf_counter() - began)
    return took


# -- report -------------------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def report(f: Figures) -> None:
    where = (
        "SQLite file, one process"
        if f.backend == "sqlite"
        else "PostgreSQL, two replicas: waiters on B, decisions on A"
    )
    print(
        f"wait bench: {f.waiters} waiters, {where} ({os.cpu_count()} cores; load average "
        f"{' before, '.join(f'{n:.1f}' for n in f.load)} after)"
    )
    print(f"  parked: all {f.waiters} in {f.parked_in:.1f} s")
    growth = f.rss_parked - f.rss_before
    print(
        f"  server RSS: {f.rss_before:.1f} MB before, {f.rss_parked:.1f} MB with all parked: "
        f"+{growth:.1f} MB, {growth * 1024 / max(1, f.waiters):.1f} KB a waiter (target ≤ 50 MB)"
    )
    print(f"  server CPU while parked, nothing decided: {f.idle_cpu * 100:.1f} % of a core")
    print(f"  yardstick, a plain GET of a request while parked: {_ms(f.plain)}")
    print(
        f"  decisions: {f.waiters} at {f.rate:g}/s, answers missing or wrong: {f.failed}, "
        f"waits that ran out and were asked again: {f.again}"
    )
    print(f"  decision POSTs: {_ms(f.posts)}")
    print(
        f"  server CPU a decision (its POST, the wake-up, the answer, the message update): "
        f"{f.decide_cpu * 1000 / max(1, f.waiters):.2f} ms"
    )
    print(f"  commit → waiter's response: {_ms(f.from_commit)} (target p99 ≤ 50 ms)")
    if f.heard:
        print(f"  commit on A → wake-up heard on B: {_ms(f.heard)}")
    print(f"  decision POST returned → waiter's response: {_ms(f.from_post)}")


async def bench(args: argparse.Namespace, folder: Path) -> None:
    if args.backend in ("sqlite", "both"):
        url = f"sqlite:///{folder / 'wait.db'}"
        report(await run(url, "sqlite", args.waiters, args.rate))
    if args.backend in ("postgres", "both"):
        async with bench_database("bench_wait") as pg:
            report(await run(pg.dsn("bench_wait"), "postgres", args.waiters, args.rate))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rate", type=float, default=50.0, help="decisions per second")
    parser.add_argument("--dir", default=None, help="where to put the SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        asyncio.run(bench(args, Path(folder)))


if __name__ == "__main__":
    main()
