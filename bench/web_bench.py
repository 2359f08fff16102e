"""Web inbox page benchmark (issue 17: a page in ≤ 50 ms server time with 100,000 sessions).
Prints figures; never asserts them.

Fills a store with --sessions sessions across four workspaces (most in the one signed in to),
40 owners, 12 channels and four modes, created over the last 180 days, each with its owner as
member, three events and two messages, a decided plan on every third, a few hundred pending
plans and pending requests. Rows go in through the store's own insert path
(`store.writes.insert_all`, `store.history.insert_messages`) in units of BATCH sessions, not one
service call each, which would only measure the write path.

Then a person signed in by a one-time link asks each page --requests times over a real HTTP
client with the server in the same process (aiohttp on 127.0.0.1): inbox, the sessions list's
first page and the page after its cursor, a filtered list, a search, one session page and the
Stats page (as a person sees it again and again: its figures read once, kept until a commit
wakes the store or 10 s pass; and after a commit, each time read afresh). The times are taken
around each whole request as the client sees it, subtracting nothing (so they include the
client and the loopback round trip, and are an upper bound on the server's time).

    python -m bench.web_bench [--sessions 100000] [--requests 50] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.http import HttpServer
from bot.web import mount_web
from core.clock import SystemClock
from core.models import (
    Event,
    EventType,
    Member,
    Plan,
    PlanItem,
    PlanStatus,
    Role,
    Session,
    Source,
    Status,
    new_id,
)
from core.records.history import Message, MessageRole
from core.records.requests import Request, RequestKind, RequestStatus
from core.services.web_signin import SignIn
from core.store import wakes
from core.store.db import Tx
from core.store.decode import rows
from core.store.factory import open_store
from core.store.history import insert_messages
from core.store.store import Store
from core.store.writes import insert_all
from core.wiring import build_services
from tests.pg import bench_database

WORKSPACES = ("console:bench", "console:other1", "console:other2", "console:other3")
OWNERS = [f"u{i:02}" for i in range(40)]
CHANNELS = [f"c{i:02}" for i in range(12)]
MODES = ("agent", "review", "oncall", "deploy")
ENDED = (Status.COMPLETED, Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.ABANDONED)
WORDS = [
    "deploy",
    "rollback",
    "canary",
    "database",
    "migration",
    "cache",
    "timeout",
    "retry",
    "latency",
    "region",
]
BATCH = 2000
ME = "u07"


def _sessions(total: int, now: datetime, rnd: random.Random) -> Iterator[Session]:
    refs = dict.fromkeys(WORKSPACES, 0)
    for i in range(total):
        ws = WORKSPACES[0] if i % 10 < 7 else WORKSPACES[1 + i % 3]
        refs[ws] += 1
        created = now - timedelta(seconds=rnd.uniform(0, 180 * 86400))
        ended = i % 5 != 0  # one in five still open
        status = ENDED[i % len(ENDED)] if ended else (Status.ACTIVE, Status.PAUSED)[i % 2]
        end = created + timedelta(minutes=rnd.uniform(1, 600)) if ended else None
        if end is not None and end > now:
            end = now
        last = end or created
        yield Session(
            id=new_id(), ref=refs[ws], workspace=ws, channel_id=CHANNELS[i % len(CHANNELS)],
            owner_id=OWNERS[i % len(OWNERS)], title=f"{rnd.choice(WORDS)} {i}",
            mode=MODES[i % len(MODES)], status=status, created_at=created, updated_at=last,
            last_activity_at=last, abandon_at=None if ended else last + timedelta(days=7),
            iterations=rnd.randint(0, 60), ended_at=end,
            outcome=status.value if ended else None,
        )  # fmt: skip


def _children(s: Session, i: int, now: datetime) -> dict[str, list[Any]]:
    at = s.created_at
    events = [
        Event(new_id(), s.id, n + 1, t, s.owner_id, Source.API, {"note": f"step {n}"}, at)
        for n, t in enumerate((EventType.CREATED, EventType.ITERATION, EventType.TOOL_CALL))
    ]
    messages = [
        Message(new_id(), s.id, n + 1, role, s.owner_id, f"{WORDS[(i + n) % 10]} {s.title}", at)
        for n, role in enumerate((MessageRole.USER, MessageRole.ASSISTANT))
    ]
    plans: list[Plan] = []
    requests: list[Request] = []
    pending = i % 250 == 0 and s.status is Status.ACTIVE
    if i % 3 == 0 or pending:
        decided = None if pending else at + timedelta(minutes=1 + i % 300)
        plans.append(
            Plan(new_id(), s.id, 1, PlanStatus.PENDING if pending else PlanStatus.APPROVED,
                 [PlanItem(1, "check"), PlanItem(2, "ship")], f"h{i}", 1, s.owner_id, at,
                 decided_at=decided, decided_by=None if pending else OWNERS[(i + 1) % 40])
        )  # fmt: skip
    if i % 250 == 5 and s.status is Status.PAUSED:
        requests.append(
            Request(new_id(), s.id, RequestKind.ACTION, RequestStatus.PENDING, "agent", at,
                    action="deploy", args={"env": "prod"}, summary="deploy to prod",
                    expires_at=now + timedelta(days=30))
        )  # fmt: skip
    return {"events": events, "messages": messages, "plans": plans, "requests": requests}


async def fill(store: Store, total: int, now: datetime) -> float:
    """`total` sessions with their rows, BATCH sessions per unit; the seconds it took."""
    rnd = random.Random(17)
    started = time.perf_counter()
    made = _sessions(total, now, rnd)
    i = 0
    while True:
        batch = [s for _, s in zip(range(BATCH), made, strict=False)]
        if not batch:
            break
        kids: dict[str, list[Any]] = {"events": [], "messages": [], "plans": [], "requests": []}
        for n, s in enumerate(batch):
            for k, v in _children(s, i + n, now).items():
                kids[k].extend(v)
        i += len(batch)

        async def unit(tx: Tx, batch: list[Session] = batch, kids: dict[str, Any] = kids) -> None:
            await insert_all(tx, "sessions", rows.session.columns, batch)
            for s in batch:  # each owner a member of their session
                await insert_all(tx, "members", f"session_id, {rows.member.columns}",
                                 [Member(s.owner_id, Role.OWNER)], session_id=s.id)  # fmt: skip
            await insert_all(tx, "events", rows.event.columns, kids["events"])
            await insert_messages(tx, kids["messages"])
            await insert_all(tx, "plans", rows.plan.columns, kids["plans"])
            for p in kids["plans"]:
                await insert_all(tx, "plan_items", rows.plan_item.columns, p.items, plan_id=p.id)
            await insert_all(tx, "requests", rows.request.columns, kids["requests"])

        await store.db.write(unit, notify=False)
    return time.perf_counter() - started


async def _timed(
    http: aiohttp.ClientSession, url: str, times: int, before: Callable[[], Awaitable[None]] | None
) -> tuple[list[float], str]:
    found: list[float] = []
    text = ""
    for _ in range(times + 2):  # two first, untimed: no first-use costs in the figures
        if before is not None:
            await before()  # untimed
        start = time.perf_counter()
        async with http.get(url, allow_redirects=False) as answer:
            text = await answer.text()
            if answer.status != 200:
                raise SystemExit(f"{url}: {answer.status} {text[:500]}")
        found.append((time.perf_counter() - start) * 1000)
    return found[2:], text


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"p50 {statistics.median(values):6.1f} ms, p95 {p95:6.1f} ms, max {values[-1]:6.1f} ms"


async def run(url: str, label: str, total: int, times: int) -> None:
    store = open_store(url)
    await store.open()
    http_server = HttpServer("127.0.0.1", 0)
    try:
        services = build_services(store, clock=SystemClock())
        now = services.clock.now()
        seconds = await fill(store, total, now)
        print(f"web bench on {label}: {total:,} sessions filled in {seconds:.1f} s")
        if store.db.dialect.name == "postgres":  # as autovacuum does soon after such a load
            await store.db.execute("ANALYZE")
            print("  ANALYZE run after the fill (the planner's statistics)")
        mount_web(http_server.app, services, on=True, base_url="http://127.0.0.1:3000")
        await http_server.start()
        token = await SignIn(services.store, services.clock).link(WORKSPACES[0], ME)
        base = f"http://127.0.0.1:{http_server.port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await _sign_in(http, base, token)
            await _pages(http, store, base, total, times)
    finally:
        await http_server.stop()
        await store.close()


async def _sign_in(http: aiohttp.ClientSession, base: str, token: str) -> None:
    """Open the one-time link and press its button, as a browser does."""
    async with http.get(f"{base}/web/login/{token}") as shown:
        nonce = re.search(r'name="nonce" value="([^"]+)"', await shown.text())
    assert nonce is not None
    form = {"token": token, "nonce": nonce.group(1)}
    async with http.post(f"{base}/web/login", data=form, allow_redirects=False) as answer:
        if answer.status != 303:
            raise SystemExit(f"sign-in failed: {answer.status}")


async def _pages(
    http: aiohttp.ClientSession, store: Store, base: str, total: int, times: int
) -> None:
    print(f"  {times} requests a page, signed in as {ME} of {WORKSPACES[0]}; each time is the")
    print("  whole request over a real HTTP client, server in-process, subtracting nothing")
    _, listing = await _timed(http, f"{base}/web/sessions", 0, None)
    after = re.search(r'href="/web/sessions\?[^"]*after=([^"&]+)', listing)
    one = re.search(r'href="/web/sessions/([0-9a-f-]{36})"', listing)
    pages = {
        "inbox": "/web/inbox",
        "sessions, first page": "/web/sessions",
        "sessions, after a cursor": f"/web/sessions?after={after.group(1) if after else ''}",
        "sessions, filtered": f"/web/sessions?status=done&owner={ME}&mode=review&channel=c03",
        "search, a rare word": f"/web/sessions?q={total * 7 // 9}",
        "search, a word of 1 in 5": "/web/sessions?q=canary",
        "one session": f"/web/sessions/{one.group(1) if one else '1'}",
        "stats": "/web/stats",
        "stats, after a commit": "/web/stats",
        "stats, all read again": "/web/stats",
    }
    picked = await store.db.fetchall(
        "SELECT id FROM sessions WHERE workspace = ? ORDER BY random() LIMIT 100", (WORKSPACES[0],)
    )
    changed = itertools.cycle([str(row[0]) for row in picked])

    async def commit(key: str | None = None) -> None:
        """A unit that wakes the store as a change of a session does, naming a random session
        of the workspace (the Stats page reads again the days it counts in, today and the
        window's edge: core/services/stats_page.py); `ANY` (a replica's lost LISTEN) has every
        day read again."""

        async def wake(tx: Tx) -> None:
            tx.wake(key or wakes.events(next(changed)))

        await store.db.write(wake, notify=False)

    before: dict[str, Callable[[], Awaitable[None]]] = {
        "stats, after a commit": commit,
        "stats, all read again": lambda: commit(wakes.ANY),
    }
    for name, path in pages.items():
        found, _ = await _timed(http, base + path, times, before.get(name))
        print(f"  {name:26} {_ms(found)}")


async def bench(args: argparse.Namespace, folder: Path) -> None:
    if args.backend == "sqlite":
        await run(f"sqlite:///{folder / 'web.db'}", "SQLite file", args.sessions, args.requests)
        return
    async with bench_database("bench_web") as pg:
        await run(pg.url("bench_web"), "PostgreSQL", args.sessions, args.requests)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--dir", default=None, help="where to put the SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        asyncio.run(bench(args, Path(folder)))


if __name__ == "__main__":
    main()
