"""A query tree (core/records/search.py) as a PostgreSQL tsquery.

Core turns what people type into a small tree (`core/history/search.py`): words and phrases,
prefixes, all-of / any-of / but-not. This module writes it as `to_tsquery` text: each term
becomes a quoted tsquery phrase (`'rolled back'`, the words next to each other, `<->`), a
prefix gets `:*`, and `a NOT b` becomes `a & !b`. The database's own parser splits each
phrase into words, the same way it split the indexed text.

Differences from FTS5, as far as the engines allow: a prefix phrase (`"deploy roll"*`)
matches every word as a prefix on PostgreSQL, only the last one on SQLite; ranking is
`ts_rank` (term frequency over document length) where SQLite uses bm25 (which also weighs
how rare a word is in the corpus).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from core.records.search import AllOf, AnyOf, Query, Term, Without

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class TsQuery:
    """The `to_tsquery` text, and the word pairs adjacent inside a phrase (for snippets)."""

    text: str
    phrase_pairs: frozenset[tuple[str, str]]


def _lexeme(text: str, *, prefix: bool) -> str:
    """A term as a quoted tsquery operand; quotes and backslashes escaped."""
    body = text.replace("\\", "\\\\").replace("'", "''")
    return f"'{body}'" + (":*" if prefix else "")


def _render(query: Query, pairs: set[tuple[str, str]]) -> str:
    match query:
        case Term(text, prefix):
            pairs.update(itertools.pairwise(_WORD.findall(text.lower())))
            return _lexeme(text, prefix=prefix)
        case AllOf(parts):
            return " & ".join(f"({_render(part, pairs)})" for part in parts)
        case AnyOf(parts):
            return " | ".join(f"({_render(part, pairs)})" for part in parts)
        case Without(keep, drop):
            return f"({_render(keep, pairs)}) & !({_render(drop, pairs)})"


def to_tsquery(query: Query) -> TsQuery:
    """The `to_tsquery` text of a query tree, with the word pairs of its phrases."""
    pairs: set[tuple[str, str]] = set()
    return TsQuery(_render(query, pairs), frozenset(pairs))
