"""The core bench on PostgreSQL beside SQLite, and W2 with several writer processes (SPEC §13/§14).

Starts its own PostgreSQL server from the machine's binaries (as tests/pg.py does: temporary
data directory, loopback port, `fsync` left ON here so commits are durable like SQLite's
synchronous=FULL), then in one run:

- W1–W4 of bench/core_bench.py on a SQLite file and on PostgreSQL, and PostgreSQL's rate as a
  share of SQLite's;
- W2 (append events through Services, 50 tasks per process) with 1, 2 and 4 processes
  writing to one PostgreSQL database at once: total events/s across processes.

    python -m bench.pg_bench [--events 20000] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.core_bench import CONCURRENCY, PAYLOAD, WS, _actor, bench_service
from core.models import ChatRef, EventType
from core.store.factory import open_store
from core.wiring import build_services
from tests.pg import PgServer, find_bin_dir


async def _create_database(server: PgServer, name: str) -> str:
    conn = await asyncpg.connect(server.url("postgres").split("?")[0])
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return server.url(name).replace("pool_max=4", f"pool_max={CONCURRENCY // 2}")


async def _prepare_sessions(url: str, count: int) -> list[str]:
    store = open_store(url)
    await store.open()
    try:
        services = build_services(store)
        chat = ChatRef("console", WS, "bench")
        return [
            (await services.sessions.start(_actor(f"user{i % 20}"), chat, f"session {i}")).id
            for i in range(count)
        ]
    finally:
        await store.close()


def _writer(url: str, sessions: list[str], events: int, start_at: float, out: object) -> None:
    """One process: wait for the common start, append `events` from 50 tasks, report time."""

    async def run() -> float:
        store = open_store(url)
        await store.open()
        try:
            services = build_services(store)
            owners = {s: "" for s in sessions}
            for session_id in sessions:
                found = await store.sessions.by_id(session_id)
                assert found is not None
                owners[session_id] = found.owner_id
            counter = iter(range(events))

            async def worker() -> None:
                for i in counter:
                    session_id = sessions[i % len(sessions)]
                    await services.progress.record_event(
                        _actor(owners[session_id]), session_id, EventType.TOOL_CALL, PAYLOAD
                    )

            await asyncio.sleep(max(0.0, start_at - time.time()))
            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - began
        finally:
            await store.close()

    out.put(asyncio.run(run()))  # type: ignore[attr-defined]


def w2_processes(url: str, sessions: list[str], events: int, processes: int) -> float:
    """Total events/s of `processes` writers appending `events` in all."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 3.0  # every process connected and ready by then
    share = events // processes
    workers = [
        context.Process(target=_writer, args=(url, sessions, share, start_at, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    elapsed = [float(results.get(timeout=600)) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return share * processes / max(elapsed)


async def bench(events: int, counts: list[int], folder: Path) -> None:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (or $PG_BIN_DIR)")
    server = PgServer.start(bin_dir, durable=True)
    try:
        sqlite = await bench_service(f"sqlite:///{folder / 'bench.db'}", events)
        postgres = await bench_service(await _create_database(server, "bench_w"), events)
        scaling = {}
        for n in counts:
            url = await _create_database(server, f"bench_p{n}")
            sessions = await _prepare_sessions(url, 200)
            scaling[n] = w2_processes(url, sessions, events, n)
    finally:
        server.stop()
    print(f"core bench, SQLite file vs PostgreSQL ({os.cpu_count()} cores), {events} events")
    print(f"  {'':34} {'SQLite':>10} {'PostgreSQL':>12} {'PG/SQLite':>10}")
    for name in sqlite:
        if name in postgres:
            ratio = postgres[name] / sqlite[name]
            unit = "µs" if name.startswith("W1 CPU") else "ops/s"
            print(
                f"  {name:34} {sqlite[name]:>10,.0f} {postgres[name]:>12,.0f} {ratio:>9.2f}x {unit}"
            )
    print("W2 append events on PostgreSQL, 50 tasks per process")
    for n, rate in scaling.items():
        print(f"  {n} process{'es' if n > 1 else '  '} {rate:>12,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--dir", default=None, help="where to put the SQLite file")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        asyncio.run(bench(args.events, counts, Path(folder)))


if __name__ == "__main__":
    main()
