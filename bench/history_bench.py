"""History benchmark (issue 3, SPEC §14). Prints figures; never run by the tests.

H1 read the last 20 messages of a session holding --big messages (target p99 ≤ 2 ms), through
   the store and through HistoryService.page (which also resolves the ref and counts);
H2 FTS search over --corpus messages in --sessions sessions of one workspace (target p99 ≤
   50 ms) for typical queries: rare / medium / common words, AND, phrase, prefix, one session;
H3 export of the --big session as JSON and Markdown, streamed to a sink (target: peak RSS
   growth ≤ 50 MB), sampled from /proc/self/statm every 2 ms.

Sessions are created through Services; messages are bulk-loaded through the store's
writer (`store.history.insert`, 20,000 per transaction, FTS triggers firing) instead
of one service call each, which would only measure the append path again.

    python -m bench.history_bench [--big 100000] [--corpus 1000000] [--sessions 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.history import export
from core.history.messages import HistoryService
from core.history.search import search
from core.models import Actor, ChatRef, Source, new_id
from core.records.history import Message, MessageRole
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services

WS = "console:bench"
ACTOR = Actor(WS, "bench", Source.API, platform_admin=True)
CHAT = ChatRef("console", WS, "bench")
BATCH = 20_000
OPS_WORDS = [
    *("deploy", "failed", "rollback", "rolled", "rollout", "timeout", "retry", "latency"),
    *("database", "migration", "cache", "canary", "healthy", "unhealthy", "error", "warning"),
    *("restart", "node", "cluster", "region", "traffic", "release", "config", "secret"),
    *("backup", "restore", "replica", "queue", "worker", "disk", "memory", "cpu", "alert"),
]
QUERIES = {
    "rare word": "zq{}",
    "medium word": "w{}",
    "common word": "deploy",
    "AND": "deploy AND failed",
    "phrase": '"rolled back"',
    "prefix": "roll*",
    "OR + NOT": "(timeout OR latency) NOT canary",
}


def _vocabulary() -> tuple[list[str], list[float]]:
    words = [f"w{i}" for i in range(20_000)] + OPS_WORDS + ["back", "zq"]
    weights = [1 / (rank + 10) for rank in range(20_000)]
    weights += [0.004] * len(OPS_WORDS) + [0.002, 0.0]
    cumulative = list(_accumulate(weights))
    return words, cumulative


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(total)
    return out


class TextMaker:
    """Messages of 8–30 words drawn from a Zipf-like vocabulary plus ops words."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        self.words, self.cumulative = _vocabulary()

    def text(self, n: int) -> str:
        words = self.random.choices(self.words, cum_weights=self.cumulative, k=8 + n % 23)
        if n % 997 == 0:
            words.append(f"zq{n % 50}")  # rare markers: about 1,000 per million
        if n % 41 == 0:
            words += ["rolled", "back"]
        return " ".join(words)


async def load(store: SqliteStore, plan: list[tuple[str, int]], maker: TextMaker) -> float:
    """Bulk-insert `count` messages into each (session_id, count); returns messages/s."""
    started, done, pending = time.perf_counter(), 0, []
    counters = {sid: 0 for sid, _ in plan}
    for session_id, count in plan:
        for _ in range(count):
            counters[session_id] += 1
            pending.append((session_id, counters[session_id]))
            if len(pending) >= BATCH:
                await _flush(store, pending, maker, done)
                done += len(pending)
                pending = []
    if pending:
        await _flush(store, pending, maker, done)
        done += len(pending)
    return done / (time.perf_counter() - started)


async def _flush(store: SqliteStore, batch: list, maker: TextMaker, n0: int) -> None:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [
        Message(new_id(), sid, seq, MessageRole.USER, "bench", maker.text(n0 + i),
                at + timedelta(seconds=n0 + i))
        for i, (sid, seq) in enumerate(batch)
    ]  # fmt: skip
    await store.history.insert(rows)


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "max": samples[-1],
    }


def _fmt(stats: dict[str, float]) -> str:
    return " ".join(f"{k} {v:7.3f} ms" for k, v in stats.items())


class Target:
    """The big session: its id and how many messages it holds."""

    def __init__(self, session_id: str, count: int) -> None:
        self.id, self.count = session_id, count


async def bench_reads(history: HistoryService, big: Target) -> None:
    store = history.store

    def newest(i: int) -> Awaitable[object]:
        return store.history.before(big.id, before_seq=None, limit=20)

    def page(i: int) -> Awaitable[object]:
        return history.page(ACTOR, big.id)

    print(f"H1 last 20 of {big.count:,} (store)  ", _fmt(await timed(3000, newest)))
    print(f"H1 last 20 of {big.count:,} (service)", _fmt(await timed(3000, page)))


async def bench_search(history: HistoryService, refs: list[str], rounds: int) -> None:
    everything: list[float] = []
    for name, template in QUERIES.items():
        queries = [template.format(i % 50 if "zq" in template else 200 + i) for i in range(rounds)]
        stats = await timed(rounds, lambda i, q=queries: search(history, ACTOR, q[i]))
        everything.append(stats["p99"])
        hits = len((await search(history, ACTOR, queries[0])).hits)
        print(f"H2 search {name:12} {_fmt(stats)}  ({hits} shown)")
    scoped = await timed(
        rounds, lambda i: search(history, ACTOR, "deploy", ref=refs[i % len(refs)])
    )
    print(f"H2 search {'in:<ref>':12} {_fmt(scoped)}")
    print(f"H2 worst p99 across query kinds: {max([*everything, scoped['p99']]):.1f} ms")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def bench_export(history: HistoryService, big: Target) -> None:
    for name, make in (("json", export.json_chunks), ("md", export.markdown_chunks)):
        base, peak, stop = _rss(), [0], threading.Event()

        def sample(peak: list[int] = peak, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss())
                time.sleep(0.002)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start, size = time.perf_counter(), 0
        async for chunk in make(history, ACTOR, big.id):
            size += len(chunk.encode())
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
        growth = (max(peak[0], _rss()) - base) / 2**20
        print(f"H3 export {name:4} {big.count:,} messages: {size / 2**20:6.1f} MB in "
              f"{elapsed:5.2f} s, peak RSS growth {growth:5.1f} MB")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    path = Path(args.dir) / f"history-bench-{os.getpid()}.db"
    store = SqliteStore(f"sqlite:///{path}")
    await store.open()
    services = build_services(store)
    history = services.history
    maker = TextMaker()
    try:
        started = time.perf_counter()
        big = await services.sessions.start(ACTOR, CHAT, "big session")
        rate = await load(store, [(big.id, args.big)], maker)
        print(f"load: {args.big:,} messages into one session at {rate:,.0f} msg/s")
        await bench_reads(history, Target(big.id, args.big))
        await bench_export(history, Target(big.id, args.big))
        sessions = await asyncio.gather(
            *(services.sessions.start(ACTOR, CHAT, f"s{i}") for i in range(args.sessions))
        )
        per = max(1, (args.corpus - args.big) // args.sessions)
        rate = await load(store, [(s.id, per) for s in sessions], maker)
        total = args.big + per * args.sessions
        print(f"load: {per * args.sessions:,} messages over {args.sessions:,} sessions at "
              f"{rate:,.0f} msg/s (corpus {total:,} messages, {len(sessions) + 1:,} sessions; "
              f"setup {time.perf_counter() - started:.0f} s)")  # fmt: skip
        await bench_search(history, [s.id for s in sessions], args.rounds)
        print(f"database file: {path.stat().st_size / 2**20:.0f} MB")
    finally:
        await store.close()
        if not args.keep:
            _remove(path)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", type=int, default=100_000, help="messages in the big session")
    parser.add_argument("--corpus", type=int, default=1_000_000, help="messages in all")
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions of the corpus")
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per query kind")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the database goes")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
