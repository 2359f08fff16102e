"""The Stats page's figures: each finished day read once, today read again after a change.

The figures are `Workspace.stats` (the one source of them: chat's `/session stats` and the API
read the same) and the per-day chart, both added up from day parts (core/records/stats.py).
Per workspace this keeps:

- the parts of the finished days of the window, each read after its day ended. A commit that
  wakes the store names the sessions it created or changed (`events:<id>`, with or without an
  event: core/store/writes.py) and the days of those it deleted (`day:<workspace>:<date>`); at
  the next view the days those count in are read again: the day each session was created and
  ended (also the day a session that opened again had ended on) and its plans' decisions. A
  commit this process is not told of (another process on the SQLite file: the store's
  `outside_commits`), a wake-up for everything (`ANY`: a replica's LISTEN came back), a
  session gone without its days named, or more than MAX_WOKEN sessions between two views →
  every day is read again. So a kept day is exact for every write sessionbot makes (SQL run
  by hand on PostgreSQL names nothing: it shows once a commit names those sessions). A
  workspace's days are dropped after IDLE without a view (memory; its next view reads all).
- the figures as shown, until any commit wakes the store (this process's or, on PostgreSQL,
  another replica's) or FRESH passes: then today, the window's first (partial) day and what is
  read at the moment (the jobs' lag, the outbox, the agents' requests) are read again and added
  to the kept days. So a view is never older than FRESH nor than the last commit this process
  heard of, and costs a few small reads instead of the whole window.

One computation at a time per workspace: the views that arrive meanwhile wait for it and share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core.clock import Clock
from core.models import Actor
from core.records.stats import DayPart
from core.services.workspace import Stats, Workspace
from core.store import wakes
from core.store.tallies import Tallies

FRESH = timedelta(seconds=10)
IDLE = timedelta(hours=1)  # a workspace's kept days are dropped after this long without a view
STATS_DAYS = 30  # the window the page shows
MAX_WOKEN = 2000  # sessions named since the last view; more → read every day again


@dataclass(slots=True)
class Day:
    """One day of the per-day chart: sessions started, and ended by outcome."""

    day: str  # YYYY-MM-DD, UTC
    started: int = 0
    ended: dict[str, int] = field(default_factory=dict)

    @property
    def ended_total(self) -> int:
        return sum(self.ended.values())


@dataclass(frozen=True, slots=True)
class StatsFigures:
    stats: Stats
    days: list[Day]
    at: datetime  # when they were read


@dataclass(slots=True)
class _Kept:
    """One workspace's finished days and figures."""

    viewed_at: datetime  # the last view (IDLE counts from it)
    outside: int  # the store's count of commits it was not told of, then
    days: dict[date, DayPart] = field(default_factory=dict)
    ended_on: dict[str, date] = field(default_factory=dict)  # session → kept day it ended on
    figures: StatsFigures | None = None
    woken: set[str] = field(default_factory=set)  # sessions named by commits since
    named: set[date] = field(default_factory=set)  # days named by commits since (deletions)
    everything: bool = False  # read every day again

    def forget(self, days: set[date]) -> None:
        for day in days:
            part = self.days.pop(day, None)
            for session_id in part.ended_ids if part else ():
                self.ended_on.pop(session_id, None)


@dataclass(slots=True)
class StatsPages:
    workspace: Workspace
    tallies: Tallies
    clock: Clock
    days: int = STATS_DAYS
    fresh: timedelta = FRESH
    idle: timedelta = IDLE
    max_woken: int = MAX_WOKEN
    _kept: dict[str, _Kept] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _generation: int = 0

    def stale(self, keys: frozenset[str]) -> None:
        """A commit woke the store (store.on_wake, on the loop): figures may be old, and the
        days of the sessions it names."""
        self._generation += 1
        woken = wakes.ids(keys, "events")
        named = wakes.days(keys)
        for workspace, kept in self._kept.items():
            kept.figures = None
            if kept.everything:
                continue
            kept.woken.update(woken)
            kept.named.update(day for of, day in named if of == workspace)
            if wakes.ANY in keys or len(kept.woken) > self.max_woken:
                kept.everything = True  # what it names no longer matters (nor grows)
                kept.woken.clear()
                kept.named.clear()

    async def figures(self, actor: Actor) -> StatsFigures:
        workspace = actor.workspace
        async with self._locks.setdefault(workspace, asyncio.Lock()):
            now = self.clock.now()
            for name in [w for w, k in self._kept.items() if now >= k.viewed_at + self.idle]:
                del self._kept[name]
            kept = self._kept.get(workspace)
            shown = kept.figures if kept else None
            if shown is not None and shown.at <= now < shown.at + self.fresh:
                return shown
            outside = await self.tallies.outside_commits()
            if kept is None or kept.everything or kept.outside != outside or now < kept.viewed_at:
                kept = self._kept[workspace] = _Kept(now, outside)
            kept.viewed_at = now
            generation = self._generation
            woken, kept.woken = kept.woken, set()
            kept.forget(kept.named)
            kept.named = set()
            await self._forget(workspace, kept, woken)
            parts = await self._parts(workspace, kept, now)
            today = now.astimezone(UTC).date()
            figures = StatsFigures(
                await self.workspace.stats_of(actor, self.days, parts.values(), now=now),
                [_day(day, parts.get(day)) for day in _span(today, self.days)],
                now,
            )
            if generation == self._generation:  # no commit while they were read
                kept.figures = figures
            return figures

    async def _forget(self, workspace: str, kept: _Kept, woken: set[str]) -> None:
        """Drop the kept days the woken sessions count in."""
        if not woken or not kept.days:
            return
        found = await self.tallies.days_of(sorted(woken))
        if found is None:  # a session is gone
            kept.forget(set(kept.days))
            return
        was_ended = {kept.ended_on[s] for s in woken if s in kept.ended_on}
        kept.forget(found.get(workspace, set()) | was_ended)

    async def _parts(self, workspace: str, kept: _Kept, now: datetime) -> dict[date, DayPart]:
        """Every part of the window: the kept finished days (the missing ones read and kept),
        and, read now, today (with any later day) and the window's first, partial day."""
        today = now.astimezone(UTC).date()
        first = today - timedelta(days=self.days - 1)
        since = now - timedelta(days=self.days)
        missing = list(_runs(d for d in _span(today - timedelta(days=1), self.days - 1)
                             if d not in kept.days))  # fmt: skip
        tail = missing.pop()[0] if missing and missing[-1][1] == today else today
        read = self.tallies.days
        *runs, latest, edge = await asyncio.gather(
            *(read(workspace, _midnight(a), _midnight(b), until=now) for a, b in missing),
            read(workspace, _midnight(tail), None, until=now),  # to today, and any later day
            read(workspace, since, _midnight(first), until=now, after_start=True, with_ended=False),
        )
        for (start, end), found in [*zip(missing, runs, strict=True), ((tail, today), latest)]:
            for day in _dates(start, end):  # finished days, read after they ended: kept
                part = kept.days[day] = found.get(day, DayPart())
                kept.ended_on.update(dict.fromkeys(part.ended_ids, day))
        parts = {day: part for day, part in kept.days.items() if day >= first}
        parts.update({day: part for day, part in latest.items() if day >= today})
        parts.update(edge)  # the day before the first whole one: no part of it is kept
        return parts


def _day(day: date, part: DayPart | None) -> Day:
    if part is None:
        return Day(day.isoformat())
    return Day(day.isoformat(), part.started, dict(part.ended))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _span(last: date, days: int) -> list[date]:
    """The `days` days up to `last`, oldest first."""
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _dates(start: date, end: date) -> Iterator[date]:
    """The days in [start, end)."""
    while start < end:
        yield start
        start += timedelta(days=1)


def _runs(days: Iterator[date]) -> Iterator[tuple[date, date]]:
    """Rising days as runs of consecutive ones, each [start, end)."""
    start = end = None
    for day in days:
        if start is None or day != end:
            if start is not None and end is not None:
                yield start, end
            start = day
        end = day + timedelta(days=1)
    if start is not None and end is not None:
        yield start, end
