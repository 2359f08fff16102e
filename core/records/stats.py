"""What a workspace's sessions add up to, one UTC day at a time, and how days add up.

A day's part (`DayPart`) holds that day's counts and every value its medians need, so a window
of days adds up to exactly what one query over the whole window gives: counts are summed, and
the medians are taken over all the days' values together (no median of medians). The store
reads parts (`store.tallies`); the workspace's stats add them up; the Stats page keeps the parts
of finished days between views (core/services/stats_page.py).
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

Group = tuple[str, str, str | None]  # (status, mode, outcome) of sessions


@dataclass(slots=True)
class DayPart:
    """One UTC day (or the part of it inside a window) of one workspace."""

    # sessions created that day: (status, mode, outcome) → [how many, their iterations]
    created: dict[Group, list[int]] = field(default_factory=dict)
    # seconds from start to end of those of them that ended (the median duration's values)
    durations: list[float] = field(default_factory=list)
    # sessions that ended that day, by outcome (whenever they started)
    ended: dict[str, int] = field(default_factory=dict)
    ended_ids: list[str] = field(default_factory=list)  # which sessions those are
    # seconds from submission to a person's decision of the plans decided that day
    latencies: list[float] = field(default_factory=list)

    @property
    def started(self) -> int:
        return sum(count for count, _ in self.created.values())


@dataclass(frozen=True, slots=True)
class Totals:
    """A window's parts added up."""

    by_status: dict[str, int]
    by_mode: dict[str, int]
    outcomes: dict[str, int]  # of the sessions created in the window that ended
    average_iterations: float
    median_duration: timedelta | None
    median_latency: timedelta | None
    latency_counts: list[int]  # under each bound, and over the last


def add_up(parts: Iterable[DayPart], bounds: Sequence[timedelta]) -> Totals:
    by_status: Counter[str] = Counter()
    by_mode: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    iterations = 0
    durations: list[float] = []
    latencies: list[float] = []
    for part in parts:
        for (status, mode, outcome), (count, summed) in part.created.items():
            by_status[status] += count
            by_mode[mode] += count
            if outcome is not None:
                outcomes[outcome] += count
            iterations += summed
        durations += part.durations
        latencies += part.latencies
    total = sum(by_status.values())
    return Totals(
        by_status=dict(by_status),
        by_mode=dict(by_mode),
        outcomes=dict(outcomes),
        average_iterations=iterations / total if total else 0.0,
        median_duration=median(durations),
        median_latency=median(latencies),
        latency_counts=under_each(latencies, bounds),
    )


def median(seconds: Sequence[float]) -> timedelta | None:
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


def under_each(seconds: Iterable[float], bounds: Sequence[timedelta]) -> list[int]:
    """How many of `seconds` are under each of the rising `bounds` (and over the last):
    len(bounds) + 1 counts."""
    counts = [0] * (len(bounds) + 1)
    limits = [b.total_seconds() for b in bounds]
    for value in seconds:
        counts[bisect.bisect_right(limits, value)] += 1
    return counts
