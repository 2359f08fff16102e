"""Aggregates the database computes, so that no row per record comes back to Python."""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from core.store.db import Database


def summary(
    seconds: Sequence[float], bounds: Sequence[timedelta]
) -> tuple[timedelta | None, list[int]]:
    """The median of `seconds`, and how many are under each of the rising `bounds` (and over
    the last): len(bounds) + 1 counts."""
    counts = [0] * (len(bounds) + 1)
    limits = [b.total_seconds() for b in bounds]
    for value in seconds:
        counts[bisect.bisect_right(limits, value)] += 1
    median = timedelta(seconds=statistics.median(seconds)) if seconds else None
    return median, counts


async def median_seconds(
    db: Database, value: str, scope: str, args: Sequence[Any]
) -> timedelta | None:
    """The median of `value` (seconds, an SQL expression) over the rows of `scope` (`FROM …
    WHERE …`), found by the database: only the one or two middle values are read."""
    row = await db.fetchone(f"SELECT COUNT(*) {scope}", args)
    count = int(row[0]) if row else 0
    if not count:
        return None
    middle = await db.fetchall(
        f"SELECT {value} AS v {scope} ORDER BY v LIMIT ? OFFSET ?",
        (*args, 2 - count % 2, (count - 1) // 2),
    )
    return timedelta(seconds=statistics.fmean(float(r[0]) for r in middle))
