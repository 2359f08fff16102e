"""Durations as people type them: `90s`, `15m`, `2h`, `3d`, `1w`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `2h30m`, `1w` into a timedelta; raise ValueError otherwise."""
    value = text.strip().lower()
    if not _WHOLE.fullmatch(value):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 3d, 1w)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    result = timedelta(seconds=seconds)
    if result > MAX_DURATION:
        raise ValueError("a duration can be at most 3650d")
    return result


def format_duration(delta: timedelta) -> str:
    """Render a timedelta compactly, largest two units: `2h 30m`, `3d 4h`, `45s`."""
    seconds = int(abs(delta.total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts) or "0s"
