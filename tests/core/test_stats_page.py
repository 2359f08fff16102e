"""The Stats page's figures: read once for many views, forgotten at the next commit wake-up
and never kept longer than FRESH."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime, timedelta

from core.clock import ManualClock
from core.errors import SessionBotError
from core.models import Decision, Status
from core.services.stats_page import FRESH, IDLE, StatsFigures, StatsPages
from core.store import wakes
from core.store.db import Tx
from core.store.decode import rows
from core.store.writes import insert_all
from core.wiring import Services
from tests.conftest import CHAT, actor, opened_store
from tests.store.contract.records import session_record

OWNER = actor("owner")


def _pages(services: Services) -> StatsPages:
    s = services
    pages = StatsPages(s.workspace, s.store.tallies, s.clock)
    s.store.on_wake(pages.stale)
    return pages


async def _started(pages: StatsPages) -> int:
    return sum(day.started for day in (await pages.figures(OWNER)).days)


async def test_a_commit_that_wakes_the_store_shows_at_once(services: Services) -> None:
    pages = _pages(services)
    assert await _started(pages) == 0
    first = await pages.figures(OWNER)
    assert await pages.figures(OWNER) is first, "read once for many views"
    done = await services.sessions.start(OWNER, CHAT, "quick")
    assert await _started(pages) == 1
    await services.sessions.complete(OWNER, str(done.ref))
    figures = await pages.figures(OWNER)
    assert figures.stats.by_status == {Status.COMPLETED.value: 1}
    assert figures.stats == await services.workspace.stats(OWNER, days=pages.days)


async def test_a_change_no_commit_announced_shows_within_fresh(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    assert await _started(pages) == 0
    quiet = session_record(7, created_at=clock.now())

    async def unit(tx: Tx) -> None:  # a unit that names no wake-up key
        await insert_all(tx, "sessions", rows.session.columns, [quiet])

    await services.store.db.write(unit, notify=False)
    assert await _started(pages) == 0, "kept: nothing woke the store"
    clock.advance(FRESH.total_seconds() - 1)
    assert await _started(pages) == 0
    clock.advance(1)
    assert await _started(pages) == 1, "never older than FRESH"


DAY = timedelta(days=1)


async def _fresh(services: Services) -> StatsFigures:
    """What a view that keeps nothing shows (a new page cache)."""
    return await _pages(services).figures(OWNER)


def _same(kept: StatsFigures, fresh: StatsFigures) -> None:
    assert kept.stats == fresh.stats
    assert kept.days == fresh.days


async def _quiet_session(services: Services, ref: int, created: datetime) -> None:
    """A session written by a unit that names no wake-up key (as a bulk load would)."""
    record = session_record(ref, created_at=created)

    async def unit(tx: Tx) -> None:
        await insert_all(tx, "sessions", rows.session.columns, [record])

    await services.store.db.write(unit, notify=False)


async def test_a_finished_day_is_read_once_until_a_commit_names_a_session_of_it(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    old = await services.sessions.start(OWNER, CHAT, "three days ago")
    clock.advance(3 * DAY)
    assert await _started(pages) == 1
    await _quiet_session(services, 50, old.created_at + timedelta(minutes=1))
    clock.advance(FRESH)
    assert await _started(pages) == 1, "a finished day is kept: it was read after it ended"
    await services.sessions.complete(OWNER, str(old.ref))  # names the old session
    assert await _started(pages) == 2, "its day is read again"
    _same(await pages.figures(OWNER), await _fresh(services))


async def test_a_workspace_not_viewed_for_idle_has_every_day_read_again(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    await services.sessions.start(OWNER, CHAT, "two days ago")
    clock.advance(2 * DAY)
    assert await _started(pages) == 1
    await _quiet_session(services, 50, clock.now() - 2 * DAY)
    for _ in range(3):  # viewed every IDLE - 1 s: the finished days stay kept
        clock.advance(IDLE - timedelta(seconds=1))
        assert await _started(pages) == 1
    clock.advance(IDLE)
    assert await _started(pages) == 2, "nobody looked for IDLE: its days were dropped"


async def test_a_session_that_opens_again_leaves_the_day_it_had_ended_on(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    session = await services.sessions.start(OWNER, CHAT, "idle")
    clock.advance(DAY)
    await services.sessions.abandon(session.id)
    clock.advance(2 * DAY)
    shown = await pages.figures(OWNER)
    assert sum(day.ended.get("abandoned", 0) for day in shown.days) == 1
    await services.sessions.resume(OWNER, str(session.ref))
    shown = await pages.figures(OWNER)
    assert sum(day.ended_total for day in shown.days) == 0, "no longer ended that day"
    assert shown.stats.by_status == {Status.ACTIVE.value: 1}
    _same(shown, await _fresh(services))


async def test_a_deleted_session_leaves_every_day_it_counted_in(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    session = await services.sessions.start(OWNER, CHAT, "short-lived")
    await services.plans.submit(OWNER, str(session.ref), ["x"])
    clock.advance(timedelta(minutes=5))
    await services.plans.decide(OWNER, Decision.APPROVE, ref=str(session.ref))
    clock.advance(DAY)
    await services.sessions.complete(OWNER, str(session.ref))
    clock.advance(2 * DAY)
    shown = await pages.figures(OWNER)
    assert shown.stats.median_approval_latency == timedelta(minutes=5)
    await services.sessions.delete(OWNER, str(session.ref))
    shown = await pages.figures(OWNER)
    assert (await _started(pages), shown.stats.median_approval_latency) == (0, None)
    _same(shown, await _fresh(services))


async def test_kept_figures_equal_a_fresh_read_through_a_month_of_changes(
    services: Services, clock: ManualClock
) -> None:
    """Sessions started, decided, ended, reopened and deleted over 40 days, the page viewed
    between the changes: what it shows is always what a page that keeps nothing shows."""
    pages = _pages(services)
    rnd = random.Random(7)
    refs: list[str] = []
    for step in range(60):
        choice = rnd.random()
        if choice < 0.35 or not refs:
            refs.append(str((await services.sessions.start(OWNER, CHAT, f"s{step}")).ref))
        else:
            ref = rnd.choice(refs)
            action = rnd.choice(("plan", "complete", "fail", "resume", "delete", "iterate"))
            with contextlib.suppress(SessionBotError):
                if action == "plan":
                    await services.plans.submit(OWNER, ref, ["x"])
                    clock.advance(timedelta(minutes=rnd.randint(1, 90)))
                    await services.plans.decide(OWNER, Decision.APPROVE, ref=ref)
                elif action == "complete":
                    await services.sessions.complete(OWNER, ref)
                elif action == "fail":
                    await services.sessions.fail(OWNER, ref, reason="broke")
                elif action == "resume":
                    await services.sessions.resume(OWNER, ref)
                elif action == "iterate":
                    await services.progress.record_iteration(OWNER, ref, count=3)
                else:
                    await services.sessions.delete(OWNER, ref)
                    refs.remove(ref)
        clock.advance(timedelta(hours=rnd.choice((1, 5, 17))))
        if step % 3 == 0:
            shown = await pages.figures(OWNER)
            _same(shown, await _fresh(services))
            assert shown.stats == await services.workspace.stats(OWNER, days=pages.days)
    assert sum(day.started for day in (await pages.figures(OWNER)).days) > 0


async def test_a_deletion_reads_again_only_the_days_it_names(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    gone = await services.sessions.start(OWNER, CHAT, "deleted later")
    clock.advance(5 * DAY)
    await _quiet_session(services, 50, clock.now() - 2 * DAY)  # on a day read once, below
    clock.advance(3 * DAY)
    assert await _started(pages) == 2
    await _quiet_session(services, 51, clock.now() - 3 * DAY)  # unseen until its day is read
    await services.sessions.delete(OWNER, str(gone.ref))
    assert await _started(pages) == 1, "the deleted one's day read again, the other day kept"


async def test_another_process_commits_show_at_the_next_read(
    services: Services, clock: ManualClock, db_url: str
) -> None:
    """A commit of another process: on PostgreSQL it is announced (NOTIFY, heard by LISTEN);
    on SQLite it is not, and the file's data version has every day read again."""
    pages = _pages(services)
    await services.sessions.start(OWNER, CHAT, "here")
    clock.advance(3 * DAY)
    assert await _started(pages) == 1
    quiet = session_record(60, created_at=clock.now() - 2 * DAY)
    heard = asyncio.Event()
    services.store.on_wake(lambda keys: heard.set() if wakes.events(quiet.id) in keys else None)
    async with opened_store(db_url) as elsewhere:

        async def unit(tx: Tx) -> None:
            await insert_all(tx, "sessions", rows.session.columns, [quiet])
            tx.wake(wakes.events(quiet.id))

        await elsewhere.db.write(unit)
    if services.store.backend == "postgres":
        await asyncio.wait_for(heard.wait(), timeout=10)
    else:
        assert not heard.is_set(), "SQLite tells no other process"
    clock.advance(FRESH)
    assert await _started(pages) == 2


async def test_a_wake_up_for_everything_or_too_many_sessions_has_every_day_read_again(
    services: Services, clock: ManualClock
) -> None:
    pages = _pages(services)
    pages.max_woken = 2
    started = [await services.sessions.start(OWNER, CHAT, f"today {n}") for n in range(3)]
    clock.advance(3 * DAY)
    assert await _started(pages) == 3
    await _quiet_session(services, 50, clock.now() - 2 * DAY)
    pages.stale(frozenset({wakes.OUTBOX, *(wakes.events(s.id) for s in started[:2])}))
    assert await _started(pages) == 3, "only the named sessions' day is read again"
    pages.stale(frozenset({wakes.ANY}))  # a replica's LISTEN came back: keys may be lost
    assert await _started(pages) == 4
    await _quiet_session(services, 51, clock.now() - 2 * DAY)
    pages.stale(frozenset(wakes.events(s.id) for s in started))
    assert await _started(pages) == 5, "more sessions than max_woken: every day read again"
