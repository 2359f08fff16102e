"""Core write/read benchmark (issue: foundation, SPEC §14). Prints ops/s; never run by the tests.

W1 create 2,000 sessions · W2 append 20,000 ~200-byte events over 200 sessions from 50 tasks
· W3 read the last 20 events of each of 200 sessions, 5 rounds · W4 list one user's sessions
out of 2,000, 100 times — all through Services on a SQLite file (synchronous=FULL: every
call durable when it returns). Yardsticks in the same run on plain aiosqlite (WAL, one
connection), each doing W2's inserts: with synchronous=NORMAL one commit per insert, and
concurrent inserts grouped up to 100 per commit; with synchronous=FULL grouped the same way —
the raw group-commit bound with the service's durability, to which a last line compares W2 —
and the W3/W4 reads. W1 also prints the CPU a start costs the event loop's thread and SQLite's
writer thread (Linux). W1's floor: the statements a real session start runs, recorded and
replayed by plain sqlite3 on one thread with fresh ids (made before the clock starts), 50 starts
per commit (same file settings): what SQLite alone costs for the rows W1 writes; the last line
compares W1 to it.

With `--grown N`, W1 once more on a database that already holds N sessions (indexes larger than
SQLite's page cache show there what each new row costs them).

    python -m bench.core_bench [--events 20000] [--dir /tmp] [--grown 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from core.models import Actor, ChatRef, EventType, Source, new_id
from core.store.factory import open_store
from core.store.sqlite.engine import SqliteTx
from core.store.sqlite.store import SqliteStore
from core.store.store import Store
from core.wiring import Services, build_services

WS = "console:bench"
PAYLOAD = {"tool": "shell", "args": "x" * 150}
CONCURRENCY = 50


def _actor(user: str) -> Actor:
    return Actor(WS, user, Source.API)


async def _spread(total: int, work: Callable[[int], Awaitable[object]]) -> float:
    """Run `work(i)` for i in range(total) from CONCURRENCY tasks; return ops/s."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await work(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - start)


async def bench_service(url: str, events: int) -> dict[str, float]:
    """W1–W4 through Services on the store of `url` (SQLite file or PostgreSQL)."""
    store = open_store(url)
    await store.open()
    try:
        return await _service_workloads(store, build_services(store), events)
    finally:
        await store.close()


async def bench_w1_grown(url: str, grown: int) -> dict[str, float]:
    """W1 on a database that already holds `grown` sessions (started first, the same way)."""
    store = open_store(url)
    await store.open()
    try:
        services = build_services(store)
        chat = ChatRef("console", WS, "bench")

        async def create(i: int) -> None:
            await services.sessions.start(_actor(f"user{i % 20}"), chat, f"session {i}")

        await _spread(grown, create)
        return {f"W1 create sessions, {grown:,} stored": await _spread(2000, create)}
    finally:
        await store.close()


async def _service_workloads(store: Store, services: Services, events: int) -> dict[str, float]:
    chat = ChatRef("console", WS, "bench")
    owner_of: dict[str, str] = {}

    async def create(i: int) -> None:
        owner = f"user{i % 20}"
        session = await services.sessions.start(_actor(owner), chat, f"session {i}")
        owner_of[session.id] = owner

    before = _thread_cpu()
    results = {"W1 create sessions": await _spread(2000, create)}
    for thread, used in _thread_cpu().items():  # where a start's CPU goes: loop, writer
        if thread in CPU_THREADS:
            results[f"W1 CPU per start, {CPU_THREADS[thread]}"] = (
                (used - before.get(thread, 0.0)) / 2000 * 1e6
            )
    targets = list(owner_of)[:200]

    async def append(i: int) -> None:
        session_id = targets[i % 200]
        await services.progress.record_event(
            _actor(owner_of[session_id]), session_id, EventType.TOOL_CALL, PAYLOAD
        )

    results["W2 append events (service)"] = await _spread(events, append)
    results["W3 last 20 events"] = await _reads(
        1000, lambda i: store.events.newest(targets[i % 200], limit=20)
    )
    results["W4 list a user's sessions"] = await _reads(
        100,
        lambda i: services.sessions.list_sessions(
            _actor("user7"), filter="all", owner="mine", page_size=20
        ),
    )
    if isinstance(store, SqliteStore):
        results["group commits"] = store.engine.units / max(1, store.engine.batches)
    return results


CPU_THREADS = {"MainThread": "event loop", "sessionbot-writer": "SQLite writer"}


def _thread_cpu() -> dict[str, float]:
    """CPU seconds each thread of this process has used (user and system), by thread name;
    read from Linux's /proc (empty where there is none)."""
    names = {str(t.native_id): t.name for t in threading.enumerate()}
    used: dict[str, float] = {}
    for task in names:
        try:
            stat = Path(f"/proc/self/task/{task}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        used[names[task]] = ticks / os.sysconf("SC_CLK_TCK")
    return used


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Statement = tuple[str, str, Any]  # (how it ran: execute | executemany, SQL, parameters)


async def bench_w1_floor(path: Path, sessions: int = 2000, per_commit: int = 50) -> float:
    """W1's floor on this schema: the statements one session start runs in its units (the ref,
    then the session, its owner, its event, its card's outbox row, the Home lookup), recorded
    from a real start and replayed with fresh ids by plain sqlite3 on one thread, `per_commit`
    starts per commit (`synchronous=FULL`, as the service): what SQLite itself costs for the
    rows W1 writes, with no event loop, no service and no hand-off."""
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        services = build_services(store)
        chat = ChatRef("console", WS, "bench")
        await services.sessions.start(_actor("user0"), chat, "warm-up")
        statements = await _recorded(lambda: services.sessions.start(_actor("user1"), chat, "x"))
    finally:
        await store.close()
    return await asyncio.to_thread(_replay, path, statements, sessions, per_commit)


async def _recorded(act: Callable[[], Awaitable[object]]) -> list[Statement]:
    """The statements the units of `act` run on the writer's connection, in order."""
    seen: list[Statement] = []
    kept = {name: getattr(SqliteTx, name) for name in ("execute", "executemany", "fetchone")}

    def recording(name: str) -> Callable[..., Awaitable[Any]]:
        async def run(tx: SqliteTx, sql: str, params: Any = ()) -> Any:
            params = list(params) if name == "executemany" else params
            seen.append(("executemany" if name == "executemany" else "execute", sql, params))
            return await kept[name](tx, sql, params)

        return run

    for name in kept:
        setattr(SqliteTx, name, recording(name))
    try:
        await act()
    finally:
        for name, method in kept.items():
            setattr(SqliteTx, name, method)
    return seen


def _fresh(value: Any, ids: dict[str, str]) -> Any:
    """`value` with every id in it replaced by a new one made as the product makes ids (the
    same id, the same new id)."""
    if isinstance(value, str):
        return UUID.sub(lambda m: ids.setdefault(m.group(), new_id()), value)
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh(v, ids) for v in value)
    return value


def _replay(path: Path, statements: list[Statement], sessions: int, per_commit: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
        conn.execute(f"PRAGMA {pragma}")
    ref_at, sql = next((i, q) for i, (_, q, _) in enumerate(statements) if "INTO sessions" in q)
    ref_column = sql.split("(", 1)[1].split(")", 1)[0].split(", ").index("ref")
    starts = []  # each start's statements with its own ids, made before the clock starts
    for _ in range(sessions):
        ids: dict[str, str] = {}
        starts.append([(how, sql, _fresh(params, ids)) for how, sql, params in statements])
    started = time.perf_counter()
    for first in range(0, sessions, per_commit):
        conn.execute("BEGIN IMMEDIATE")
        for start in starts[first : first + per_commit]:
            ref = 0
            for i, (how, sql, params) in enumerate(start):
                if i == ref_at:  # the session takes the ref the allocation just returned
                    params = (*params[:ref_column], ref, *params[ref_column + 1 :])
                found = getattr(conn, how)(sql, params).fetchall()
                if "INSERT INTO workspaces" in sql:
                    ref = found[0][0]
        conn.execute("COMMIT")
    rate = sessions / (time.perf_counter() - started)
    conn.close()
    return rate


async def _reads(total: int, read: Callable[[int], Awaitable[object]]) -> float:
    start = time.perf_counter()
    for i in range(total):
        await read(i)
    return total / (time.perf_counter() - start)


YARDSTICK_SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = {sync};
CREATE TABLE sessions (id TEXT PRIMARY KEY, owner TEXT, title TEXT, updated TEXT);
CREATE INDEX sessions_owner ON sessions (owner, updated);
CREATE TABLE events (id INTEGER PRIMARY KEY, session_id TEXT, data TEXT, created_at TEXT);
CREATE INDEX events_session ON events (session_id, id);
"""


# (name, grouped, synchronous): the yardstick is grouped with FULL, the service's mode
YARDSTICKS = (
    ("per-commit", False, "NORMAL"),
    ("grouped", True, "NORMAL"),
    ("grouped", True, "FULL"),
)
GROUPED_FULL = "W2 yardstick grouped FULL"
W1_FLOOR = "W1 floor, same statements, 50/commit"


async def bench_yardsticks(path: Path, events: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for name, grouped, sync in YARDSTICKS:
        db = path.with_name(f"{path.stem}-{name}-{sync}.db")
        async with aiosqlite.connect(db) as conn:
            await conn.executescript(YARDSTICK_SCHEMA.format(sync=sync))
            results[f"W2 yardstick {name} {sync}"] = await _yardstick_w2(conn, events, grouped)
            if not grouped:
                results.update(await _yardstick_reads(conn))
    return results


async def _yardstick_w2(conn: aiosqlite.Connection, events: int, grouped: bool) -> float:
    data = str(PAYLOAD)
    lock = asyncio.Lock()
    pending: list[asyncio.Future[None]] = []

    async def insert(i: int) -> None:
        await conn.execute(
            "INSERT INTO events (session_id, data, created_at) VALUES (?, ?, datetime('now'))",
            (f"s{i % 200}", data),
        )
        if not grouped:
            await conn.commit()
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending.append(done)
        async with lock:
            if not done.done():
                batch = pending[:100]
                del pending[:100]
                await conn.commit()
                for future in batch:
                    future.set_result(None)
        await done

    rate = await _spread(events, insert)
    await conn.commit()
    return rate


async def _yardstick_reads(conn: aiosqlite.Connection) -> dict[str, float]:
    await conn.executemany(
        "INSERT INTO sessions VALUES (?, ?, ?, datetime('now'))",
        [(f"id{i}", f"user{i % 20}", f"session {i}") for i in range(2000)],
    )
    await conn.commit()

    async def last_events(i: int) -> object:
        cursor = await conn.execute(
            "SELECT * FROM events WHERE session_id = ? ORDER BY id DESC LIMIT 20", (f"s{i % 200}",)
        )
        return await cursor.fetchall()

    async def list_user(i: int) -> object:
        cursor = await conn.execute(
            "SELECT * FROM sessions WHERE owner = ? ORDER BY updated DESC LIMIT 20", ("user7",)
        )
        return await cursor.fetchall()

    return {
        "W3 yardstick": await _reads(1000, last_events),
        "W4 yardstick": await _reads(100, list_user),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--dir", default=None, help="where to put the database files")
    parser.add_argument(
        "--grown", type=int, default=0, help="also W1 on a database holding this many sessions"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "bench.db"
        services = await bench_service(f"sqlite:///{path}", args.events)
        yardsticks = await bench_yardsticks(path, args.events)
        yardsticks[W1_FLOOR] = await bench_w1_floor(path.with_name("w1-floor.db"))
        if args.grown:
            services |= await bench_w1_grown(f"sqlite:///{path.with_name('grown.db')}", args.grown)
    print(f"core bench on SQLite ({os.cpu_count()} cores), {args.events} events, 50 tasks")
    for name, value in {**services, **yardsticks}.items():
        unit = "units/commit" if name == "group commits" else "ops/s"
        unit = "µs" if name.startswith("W1 CPU") else unit
        print(f"  {name:34} {value:>10,.1f} {unit}")
    ratio = services["W2 append events (service)"] / yardsticks[GROUPED_FULL]
    print(f"  W2 service / grouped FULL yardstick {ratio:>9.2f}x")
    ratio = services["W1 create sessions"] / yardsticks[W1_FLOOR]
    print(f"  W1 service / W1 floor               {ratio:>9.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
