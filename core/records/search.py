"""A search query as a small tree, the same for every store: words and phrases (`Term`), all
of (`All`), any of (`Any`) and but-not (`Without`). Core's parser (core/history/search.py)
builds it from what people type; each store renders it in its engine's syntax (FTS5 on
SQLite, `tsquery` on PostgreSQL), so no text a user types reaches an engine's parser.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a phrase (its words next to each other); `prefix`: the last word may go on."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Without:
    keep: Query
    drop: Query


Query = Term | AllOf | AnyOf | Without


def terms(query: Query) -> list[Term]:
    """Every term of a query, left to right."""
    match query:
        case Term():
            return [query]
        case AllOf(parts) | AnyOf(parts):
            return [t for part in parts for t in terms(part)]
        case Without(keep, drop):
            return terms(keep) + terms(drop)
