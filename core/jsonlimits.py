"""How deep a JSON value may nest, and what else strict JSON refuses (NaN, infinities, NUL),
checked once for every edge where JSON comes in.

Python's `json` recurses per level, so a value nested about a thousand deep can be stored but
not read back (`RecursionError`). Every edge (API bodies, `key=value` context in chat, import
files, Slack's `private_metadata`) parses through `parse` or checks through `check_depth`, so
nothing deeper than `MAX_DEPTH` is ever stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from core.errors import UsageError

MAX_DEPTH = 64  # objects and arrays inside each other; far beyond any real metadata


class TooDeep(UsageError):
    """A JSON value nests objects and arrays deeper than MAX_DEPTH."""

    code = "too_deep"

    def __init__(self, where: str = "the value", limit: int = MAX_DEPTH) -> None:
        super().__init__(f"{where} nests objects and arrays more than {limit} deep.")
        self.where = where


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How many objects and arrays nest at the deepest point (a scalar is 0), measured
    without recursion and only until it passes `limit`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest  # enough to refuse; no need to walk the rest
        pending.extend((child, level) for child in children)
    return deepest


def check_depth(value: Any, where: str = "the value", *, limit: int = MAX_DEPTH) -> None:
    """Raise TooDeep when `value` nests more than `limit`."""
    if depth(value, limit) > limit:
        raise TooDeep(where, limit)


def parse(
    text: str | bytes,
    where: str = "the value",
    *,
    limit: int = MAX_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads` that refuses values nested deeper than `limit` with TooDeep (also those
    too deep for the parser itself); malformed JSON still raises ValueError."""
    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=parse_constant)
    except RecursionError:
        raise TooDeep(where, limit) from None
    check_depth(value, where, limit=limit)
    return value


def finite(text: str) -> float:
    """A `parse_float` that refuses numbers too large for a float (they would be infinite)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def refuse_constant(name: str) -> Any:
    """A `parse_constant` that refuses `NaN`, `Infinity` and `-Infinity` (not JSON)."""
    raise ValueError(f"{name} is not JSON")


def holds_nul(value: Any) -> bool:
    """Whether any string (or key) in a parsed JSON value holds U+0000, which no store keeps
    alike (PostgreSQL refuses it in text)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


__all__ = [
    "MAX_DEPTH",
    "TooDeep",
    "check_depth",
    "depth",
    "finite",
    "holds_nul",
    "parse",
    "refuse_constant",
]
