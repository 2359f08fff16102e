"""`store.tallies`: what a workspace's sessions and decisions add up to, per UTC day.

Each read returns parts by day (`core/records/stats.py`): four queries grouped by day, each from
a covering time index whatever the window, values coming back as one JSON array per day rather
than a row each: sessions created (sessions_by_created), the durations of those that ended,
sessions ended with their ids (sessions_by_ended: a session that opens again leaves the day it
had ended on) and the plans a person decided (plans_decided_in, by the workspace each plan
keeps of its session: no session is looked up). A day is the time's UTC date as `YYYY-MM-DD` text
on both backends (`Dialect.day`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from core.records.stats import DayPart
from core.store.db import Database, Dialect, Row, marks


class Reader(Protocol):
    """What `counted_in` reads through: the database, or a unit's transaction."""

    dialect: Dialect

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Tallies:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def days(
        self,
        workspace: str,
        start: datetime,
        end: datetime | None,
        *,
        until: datetime,
        after_start: bool = False,
        with_ended: bool = True,
    ) -> dict[date, DayPart]:
        """The parts of the days in [start, end) (no end: every later day) that have anything:
        sessions created in it, those ended in it (unless not `with_ended`), and plans decided
        in it up to `until` (after `start` rather than from it when `after_start`)."""
        d = self.db.dialect

        def day(column: str) -> str:
            return d.day.format(column)

        def within(column: str, *, first: str = ">=") -> tuple[str, list[datetime]]:
            if end is None:
                return f"{column} {first} ?", [start]
            return f"{column} {first} ? AND {column} < ?", [start, end]

        parts: dict[date, DayPart] = {}

        def part(text: str) -> DayPart:
            return parts.setdefault(date.fromisoformat(text), DayPart())

        def values(text: str) -> list[Any]:
            return [row[0] for row in json.loads(text)]

        created, args = within("created_at")
        scope = f"FROM sessions WHERE workspace = ? AND {created}"
        took = d.json_rows.format(d.seconds_between("created_at", "ended_at"))
        queries = [
            (
                f"SELECT {day('created_at')}, status, mode, outcome, COUNT(*), SUM(iterations)"
                f" {scope} GROUP BY 1, 2, 3, 4",
                [workspace, *args],
            ),
            (
                f"SELECT {day('created_at')}, {took} {scope} AND outcome IS NOT NULL GROUP BY 1",
                [workspace, *args],
            ),
        ]
        decided, args = within("p.decided_at", first=">" if after_start else ">=")
        took = d.json_rows.format(d.seconds_between("p.submitted_at", "p.decided_at"))
        queries.append(
            (
                f"SELECT {day('p.decided_at')}, {took} FROM plans p"
                " WHERE p.session_workspace = ? AND p.decided_by IS NOT NULL"
                f" AND {decided} AND p.decided_at <= ? GROUP BY 1",
                [workspace, *args, until],
            )
        )
        if with_ended:
            ended, args = within("ended_at")
            queries.append(
                (
                    f"SELECT {day('ended_at')}, outcome, {d.json_rows.format('id')} FROM sessions"
                    f" WHERE workspace = ? AND {ended} AND outcome IS NOT NULL GROUP BY 1, 2",
                    [workspace, *args],
                )
            )
        # At once: PostgreSQL runs them on as many pooled connections (SQLite's reader in turn).
        found = await asyncio.gather(*(self.db.fetchall(sql, args) for sql, args in queries))
        for text, status, mode, outcome, count, iterations in found[0]:
            part(text).created[(status, mode, outcome)] = [int(count), int(iterations or 0)]
        for text, seconds in found[1]:
            part(text).durations = [float(v) for v in values(seconds)]
        for text, seconds in found[2]:
            part(text).latencies = [float(v) for v in values(seconds)]
        for text, outcome, ids in found[3] if with_ended else ():
            listed = values(ids)
            part(text).ended_ids += listed
            part(text).ended[outcome] = len(listed)
        return parts

    async def days_of(self, session_ids: Sequence[str]) -> dict[str, set[date]] | None:
        """The days each workspace's parts hold of these sessions (created, ended, and their
        plans' decisions), by workspace; None when one of them is gone (deleted without
        naming its days: which days held it is no longer known)."""
        days: dict[str, set[date]] = {}
        for start in range(0, len(session_ids), CHUNK):
            found = await counted_in(self.db, session_ids[start : start + CHUNK])
            if found is None:
                return None
            for workspace, named in found.items():
                days.setdefault(workspace, set()).update(named)
        return days

    async def outside_commits(self) -> int:
        """Changes when a commit this process is not told of has landed (core/store/db.py)."""
        return await self.db.outside_commits()


CHUNK = 500  # ids in one IN list


async def counted_in(db: Reader, session_ids: Sequence[str]) -> dict[str, set[date]] | None:
    """By workspace, the days whose parts count these sessions: the day each was created and
    ended, and the days their plans were decided; None when one of them is not found. Read
    outside a transaction or inside one (a delete names the days of what it deletes)."""
    if not session_ids:
        return {}
    d = db.dialect
    listed = marks(len(session_ids))
    found = await db.fetchall(
        f"SELECT id, workspace, {d.day.format('created_at')}, {d.day.format('ended_at')}"
        f" FROM sessions WHERE id IN ({listed})",
        session_ids,
    )
    if len(found) < len(set(session_ids)):
        return None
    days: dict[str, set[date]] = {}
    for _, workspace, created, ended in found:
        days.setdefault(workspace, set()).update(
            date.fromisoformat(text) for text in (created, ended) if text
        )
    for workspace, decided in await db.fetchall(
        f"SELECT session_workspace, {d.day.format('decided_at')} FROM plans"
        f" WHERE session_id IN ({listed}) AND decided_at IS NOT NULL",
        session_ids,
    ):
        days[workspace].add(date.fromisoformat(decided))
    return days
