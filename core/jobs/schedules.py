"""Summary schedules (`daily 09:00`, `weekdays 17:30`, `weekly mon 09:00`) in IANA timezones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import UsageError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FORM = re.compile(r"(daily|weekdays|weekly (mon|tue|wed|thu|fri|sat|sun)) (\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a summary fires, on the wall clock of its timezone."""

    days: tuple[int, ...]  # weekday numbers, Monday = 0
    hour: int
    minute: int
    text: str

    @property
    def cron_days(self) -> str:
        """APScheduler's `day_of_week` field for these days."""
        return ",".join(DAYS[d] for d in self.days)


def parse_schedule(text: str) -> Schedule:
    match = _FORM.fullmatch(" ".join(text.lower().split()))
    if not match:
        raise UsageError(
            f"`{text[:40]}` is not a schedule.",
            usage="daily HH:MM | weekdays HH:MM | weekly mon HH:MM",
        )
    hour, minute = int(match.group(3)), int(match.group(4))
    if hour > 23 or minute > 59:
        raise UsageError(f"`{text[:40]}` has no such time of day.")
    kind = match.group(1)
    if kind == "daily":
        days: tuple[int, ...] = tuple(range(7))
    elif kind == "weekdays":
        days = tuple(range(5))
    else:
        days = (DAYS.index(match.group(2)),)
    return Schedule(days, hour, minute, f"{kind} {hour:02d}:{minute:02d}")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"`{name[:60]}` is not an IANA timezone like Europe/Paris.") from None


def _fires_around(schedule: Schedule, tz: ZoneInfo, moment: datetime) -> list[datetime]:
    """Fire times (UTC) from a week before to a week after `moment`, in order."""
    local_day = moment.astimezone(tz).date()
    found = []
    for offset in range(-8, 9):
        day = local_day + timedelta(days=offset)
        if day.weekday() in schedule.days:
            local = datetime.combine(day, time(schedule.hour, schedule.minute), tzinfo=tz)
            found.append(local.astimezone(UTC))
    return sorted(set(found))


def previous_fire(schedule: Schedule, timezone: str, at: datetime) -> datetime:
    """The latest fire time at or before `at` (UTC)."""
    return max(f for f in _fires_around(schedule, zone(timezone), at) if f <= at)


def next_fire(schedule: Schedule, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (UTC)."""
    return min(f for f in _fires_around(schedule, zone(timezone), after) if f > after)
