"""The Stats page's figures, computed once for everyone who looks at them in a short while.

The figures are those of `Workspace.stats` and `WebReads.days` (the one source of them: chat's
`/session stats` and the API read the same), kept per workspace until a commit wakes the store
(one that records an event or a request: a session started or ended, a plan or request decided;
this process's, or on PostgreSQL another replica's) or FRESH has passed (what changes with no
wake-up: the jobs' lag, the outbox's counts, the 30-day window's edge). So a page is never older
than FRESH, and never older than the last such commit this process heard of. One computation at
a time per workspace: the views that arrive meanwhile wait for it and share it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import Clock
from core.models import Actor
from core.services.web_pages import Day, WebReads
from core.services.workspace import Stats, Workspace

FRESH = timedelta(seconds=10)
STATS_DAYS = 30  # the window the page shows


@dataclass(frozen=True, slots=True)
class StatsFigures:
    stats: Stats
    days: list[Day]
    at: datetime  # when they were read


@dataclass(slots=True)
class StatsPages:
    """The figures per workspace, forgotten on any commit wake-up (`stale`) or after `fresh`."""

    workspace: Workspace
    reads: WebReads
    clock: Clock
    days: int = STATS_DAYS
    fresh: timedelta = FRESH
    _found: dict[str, StatsFigures] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _generation: int = 0

    def stale(self, keys: frozenset[str]) -> None:
        """A commit woke the store (store.on_wake, on the loop): every figure may be old."""
        self._generation += 1
        self._found.clear()

    async def figures(self, actor: Actor) -> StatsFigures:
        workspace = actor.workspace
        async with self._locks.setdefault(workspace, asyncio.Lock()):
            now = self.clock.now()
            kept = self._found.get(workspace)
            if kept is not None and kept.at <= now < kept.at + self.fresh:
                return kept
            generation = self._generation
            figures = StatsFigures(
                await self.workspace.stats(actor, days=self.days),
                await self.reads.days(actor, until=now, days=self.days),
                now,
            )
            if generation == self._generation:  # no commit while they were read
                self._found[workspace] = figures
            return figures
