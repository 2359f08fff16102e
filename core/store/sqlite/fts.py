"""A query tree (core/records/search.py) as an FTS5 expression: every term a quoted string."""

from __future__ import annotations

from core.records.search import AllOf, AnyOf, Query, Term, Without


def to_fts5(query: Query) -> str:
    """`deploy "rolled back" roll*` → `("deploy") AND ("rolled back") AND ("roll" *)`."""
    match query:
        case Term(text, prefix):
            quoted = '"' + text.replace('"', '""') + '"'
            return quoted + " *" if prefix else quoted
        case AllOf(parts):
            return " AND ".join(f"({to_fts5(part)})" for part in parts)
        case AnyOf(parts):
            return " OR ".join(f"({to_fts5(part)})" for part in parts)
        case Without(keep, drop):
            return f"({to_fts5(keep)}) NOT ({to_fts5(drop)})"
