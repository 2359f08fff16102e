"""Record values as a statement binds them, once for both backends (decode.py reads them back).

A JSON document as its text, an enum by its value and, where the backend keeps timestamps as
text (SQLite), a timestamp as `codec.ts` text: what SQLite's adapter would make of it, done
before the unit reaches the writer thread. Which columns hold timestamps and enums is read
once per record class from its annotations, as `Decoder` reads them back, so an insert looks
only at those columns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from core.store.codec import dumps, ts

# Columns holding a JSON document, by table (the same name is plain text in another table).
_JSON_COLUMNS: dict[str, frozenset[str]] = {
    "sessions": frozenset({"context", "metadata"}),
    "events": frozenset({"data"}),
    "messages": frozenset({"metadata"}),
    "plan_items": frozenset({"comments"}),
    "outbox": frozenset({"target", "payload"}),
    "requests": frozenset({"args", "approvers", "choices", "edited_args"}),
    "webhook_subscriptions": frozenset({"events"}),
    "installations": frozenset({"data"}),
}
_PLAIN: frozenset[str] = frozenset()


def bound(table: str, column: str, value: Any) -> Any:
    """A value as bound to `column` of `table`: a JSON document as its text, an enum by its
    value."""
    if column in _JSON_COLUMNS.get(table, _PLAIN):
        return dumps(value)
    return value.value if isinstance(value, StrEnum) else value


@lru_cache(maxsize=64)
def _columns(table: str, columns: str) -> tuple[tuple[str, ...], attrgetter[Any], tuple[int, ...]]:
    """`columns` as names, one getter of them all and the positions holding JSON documents,
    worked out once per column list (inserts are the hot path: no per-column lookup)."""
    names, json = tuple(columns.split(", ")), _JSON_COLUMNS.get(table, _PLAIN)
    return names, attrgetter(*names), tuple(i for i, n in enumerate(names) if n in json)


Typed = tuple[tuple[int, ...], tuple[int, ...]]  # positions of timestamps, of enums
_TYPED: dict[tuple[type, str], Typed] = {}  # per record class and column list


def _typed(kind: type, names: tuple[str, ...]) -> Typed:
    """The positions of `names` whose field of `kind` holds a timestamp, and those holding an
    enum, read from its annotations (as `Decoder` reads them back; the rest bind as they are)."""
    hints = get_type_hints(kind)
    times, enums = [], []
    for i, name in enumerate(names):
        hint = hints.get(name)
        members = get_args(hint) if get_origin(hint) in (UnionType, Union) else (hint,)
        if datetime in members:
            times.append(i)
        elif any(isinstance(m, type) and issubclass(m, StrEnum) for m in members):
            enums.append(i)
    return tuple(times), tuple(enums)


def row_values(
    table: str, record: Any, columns: str, *, text_times: bool = False, **given: Any
) -> tuple[Any, ...]:
    """`record`'s values for `columns` of `table` as bound: a JSON document as its text, an
    enum by its value, with `text_times` a timestamp as `codec.ts` text (what SQLite's
    adapter would make of it, done before the unit reaches the writer); `given` ones are
    columns it has no field for."""
    names, getter, json = _columns(table, columns)
    if given:
        values = [given[n] if n in given else getattr(record, n) for n in names]
    else:
        values = list(getter(record))
    for i in json:
        values[i] = dumps(values[i])
    if given:  # some columns are no field of the record: every value looked at
        if text_times:
            return tuple(_text_value(v) for v in values)
        return tuple(v.value if isinstance(v, StrEnum) else v for v in values)
    key = (type(record), columns)
    times, enums = _TYPED.get(key) or _TYPED.setdefault(key, _typed(key[0], names))
    for i in enums:
        if isinstance(value := values[i], StrEnum):
            values[i] = value.value
    if text_times:
        last = text = None  # a row's equal timestamps (one `now`) are formatted once
        for i in times:
            if isinstance(value := values[i], datetime):
                if value is not last:
                    last, text = value, ts(value)
                values[i] = text
    return tuple(values)


def _text_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ts(value)
    return value.value if isinstance(value, StrEnum) else value
