"""The Stats page's figures: read once for many views, forgotten at the next commit wake-up
and never kept longer than FRESH."""

from __future__ import annotations

from core.clock import ManualClock
from core.models import Status
from core.services.stats_page import FRESH, StatsPages
from core.services.web_pages import WebReads
from core.store.db import Tx
from core.store.decode import rows
from core.store.writes import insert_all
from core.wiring import Services
from tests.conftest import CHAT, actor
from tests.store.contract.records import session_record

OWNER = actor("owner")


def _pages(services: Services) -> StatsPages:
    s = services
    pages = StatsPages(s.workspace, WebReads(s.store, s.access, s.sessions), s.clock)
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
