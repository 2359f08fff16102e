"""Sweep benchmark (SPEC §14): a sweep over N sessions with nothing due, then with D due.

The sessions are bulk-loaded directly through the store's writer thread (`engine.write` with
`executemany`, 10,000 rows per transaction) in a child process, so the measuring process's
peak RSS reflects the bot, not the loader. Mix over 10 workspaces: 70 % archived, 20 %
completed, 6 % active, 2 % paused, 2 % pending with a pending plan — everything recent, so
nothing is due. Then D active sessions get an abandon deadline in the past and one sweep
abandons them (each in its own unit: CAS, event, outbox notification).

    python -m bench.sweep_bench [--sessions 1000000] [--due 10000] [--db /tmp/sweep.db]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import ManualClock
from core.jobs import sweep
from core.store.codec import ts
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WORKSPACES = [f"slack:T{n:03d}" for n in range(10)]
CHUNK = 10_000


def _status(i: int) -> str:
    bucket = i % 100
    if bucket < 70:
        return "archived"
    if bucket < 90:
        return "completed"
    if bucket < 96:
        return "active"
    return "paused" if bucket < 98 else "pending"


def _rows(start: int, stop: int, now: datetime = NOW) -> Iterator[tuple[object, ...]]:
    for i in range(start, stop):
        status = _status(i)
        recent = now - timedelta(minutes=30 + i % 50)
        open_ = status in ("active", "paused", "pending")
        yield (
            f"s{i:08d}", WORKSPACES[i % 10], i // 10 + 1, f"C{i % 50}", None, f"U{i % 300}",
            f"session {i}", "developer", status, "{}", "{}", 0, 100, ts(recent), ts(recent),
            ts(recent), None if open_ else ts(recent), ts(now + timedelta(hours=12)) if open_
            else None, None, None if open_ else status, None, None, None, 1,
        )  # fmt: skip


def load(db: Path, sessions: int, now: datetime = NOW) -> None:
    """Create the database and bulk-load it (runs in a child process), everything recent
    at `now`."""

    async def run() -> None:
        store = SqliteStore(f"sqlite:///{db}")
        await store.open()
        await store.engine.write(
            lambda c: c.executemany(
                "INSERT INTO workspaces (workspace, next_ref) VALUES (?, ?)",
                [(w, sessions // 10 + 2) for w in WORKSPACES],
            )
        )
        for start in range(0, sessions, CHUNK):
            batch = list(_rows(start, min(sessions, start + CHUNK), now))
            plans = [
                (f"p{r[0]}", r[0], 1, "pending", "h", 1, "U1", r[13])
                for r in batch
                if r[8] == "pending"
            ]
            await store.engine.write(lambda c, b=batch, p=plans: _insert(c, b, p))  # type: ignore[misc]
        await store.close()

    asyncio.run(run())


def _insert(conn: object, batch: list[tuple[object, ...]], plans: list[tuple[object, ...]]) -> None:
    conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO sessions (id, workspace, ref, channel_id, thread_ref, owner_id, title, mode,"
        " status, context, metadata, iterations, max_iterations, created_at, updated_at,"
        " last_activity_at, ended_at, abandon_at, result, outcome, error, parent_id,"
        " forked_from_message_id, version) VALUES (" + ", ".join("?" * 24) + ")",
        batch,
    )
    conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO plans (id, session_id, version, status, content_hash, required_approvals,"
        " submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        plans,
    )


async def measure(db: Path, due: int, rounds: int) -> dict[str, object]:
    store = SqliteStore(f"sqlite:///{db}")
    await store.open()
    services = build_services(store, clock=ManualClock(NOW))
    try:
        await sweep.sweep_due(services, NOW)  # warm the settings cache and the page cache
        idle = []
        for _ in range(rounds):
            started = time.perf_counter()
            report = await sweep.sweep_due(services, NOW)
            idle.append(time.perf_counter() - started)
            assert report.total() == 0, report
        scheduled = []
        for n in range(rounds):
            started = time.perf_counter()
            await sweep.run(services, NOW + timedelta(minutes=n), every=timedelta(minutes=1))
            scheduled.append(time.perf_counter() - started)
        await store.engine.write(
            lambda c: c.execute(
                "UPDATE sessions SET abandon_at = ? WHERE id IN (SELECT id FROM sessions"
                " WHERE status = 'active' ORDER BY id LIMIT ?)",
                (ts(NOW - timedelta(seconds=1)), due),
            )
        )
        started = time.perf_counter()
        report = await sweep.sweep_due(services, NOW)
        busy = time.perf_counter() - started
        assert report.abandoned == due and report.failed == 0, report
    finally:
        await store.close()
    return {
        "idle_sweep_ms_median": round(statistics.median(idle) * 1000, 2),
        "idle_sweep_ms_max": round(max(idle) * 1000, 2),
        "scheduled_idle_sweep_ms_median": round(statistics.median(scheduled) * 1000, 2),
        "due": due,
        "due_sweep_s": round(busy, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--db", type=Path, default=Path("/tmp/sessionbot-sweep-bench.db"))
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        load(args.db, args.sessions)
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench.sweep_bench", "--load-only", "--db", str(args.db),
         "--sessions", str(args.sessions)],
        check=True,
    )  # fmt: skip
    loaded = time.perf_counter() - started
    figures = asyncio.run(measure(args.db, args.due, args.rounds))
    print(json.dumps({"sessions": args.sessions, "load_s": round(loaded, 1), **figures}, indent=2))


if __name__ == "__main__":
    main()
