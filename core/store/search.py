"""Full-text search of messages: FTS5 on SQLite, a tsvector column on PostgreSQL.

SQLite's statements are here, PostgreSQL's in search_tsvector.py (which also says how it finds
the matches to rank): the engines' search features share no syntax. Core turns what people
type into a small tree (core/records/search.py): words and phrases, prefixes, all-of / any-of
/ but-not. Each engine gets it as its own query text — an FTS5 expression of quoted strings,
or `to_tsquery` text of quoted phrases (`<->` between the words, which the database's parser
splits as it split the indexed text).

Differences, as far as the engines allow: a prefix phrase (`"deploy roll"*`) matches every
word as a prefix on PostgreSQL, only the last one on SQLite; ranking is `ts_rank` (term
frequency over document length) where SQLite uses bm25 (which also weighs how rare a word is
in the corpus). PostgreSQL's headline is reshaped like FTS5's snippet.

Workspace-wide, when more than `RANKED` messages match, only the `RANKED` newest matches are
ranked. On SQLite: a capped count in the FTS5 index, then the rowid of the `RANKED`-th newest
match of the workspace bounds the ranked statement.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from core.errors import StoreError, UsageError
from core.records.history import MATCH_END, MATCH_START, MessageRole, SearchHit
from core.records.search import AllOf, AnyOf, Query, Term, Without
from core.store import search_tsvector
from core.store.codec import when_required
from core.store.db import Database, Row
from core.store.search_tsvector import Wanted

_WORD = re.compile(r"\w+")
_HIT = "m.id, m.session_id, m.seq, m.role, m.author_id, m.created_at, s.ref, s.title"


@dataclass(frozen=True, slots=True)
class _Syntax:
    """How one engine writes a term and the three operators (each part in parentheses)."""

    quote: str  # the term's quote, doubled inside it
    backslash: bool  # backslashes escape (to_tsquery), so they are doubled too
    prefix: str  # appended to a prefix term
    all_of: str
    any_of: str
    but_not: str


_FTS5 = _Syntax('"', False, " *", " AND ", " OR ", " NOT ")
_TSQUERY = _Syntax("'", True, ":*", " & ", " | ", " & !")


def _render(query: Query, syntax: _Syntax, pairs: set[tuple[str, str]]) -> str:
    match query:
        case Term(text, prefix):
            pairs.update(itertools.pairwise(_WORD.findall(text.lower())))
            if syntax.backslash:
                text = text.replace("\\", "\\\\")
            q = syntax.quote
            return q + text.replace(q, q + q) + q + (syntax.prefix if prefix else "")
        case AllOf(parts) | AnyOf(parts):
            glue = syntax.all_of if isinstance(query, AllOf) else syntax.any_of
            return glue.join(f"({_render(part, syntax, pairs)})" for part in parts)
        case Without(keep, drop):
            kept, dropped = _render(keep, syntax, pairs), _render(drop, syntax, pairs)
            return f"({kept}){syntax.but_not}({dropped})"


def to_fts5(query: Query) -> str:
    """`deploy "rolled back" roll*` → `("deploy") AND ("rolled back") AND ("roll" *)`."""
    return _render(query, _FTS5, set())


@dataclass(frozen=True, slots=True)
class TsQuery:
    """The `to_tsquery` text, and the word pairs adjacent inside a phrase (for snippets)."""

    text: str
    phrase_pairs: frozenset[tuple[str, str]]


def to_tsquery(query: Query) -> TsQuery:
    """The `to_tsquery` text of a query tree, with the word pairs of its phrases."""
    pairs: set[tuple[str, str]] = set()
    return TsQuery(_render(query, _TSQUERY, pairs), frozenset(pairs))


# A statement: its text, the values bound before the scope's.
Statement = tuple[str, list[Any]]


def _fts5(query: Query, where: str, one_session: bool) -> Statement:
    # Workspace-wide, order by `rank` alone: FTS5 sorts inside its scan and snippets only the
    # rows returned. In one session, bm25() lets SQLite drop other sessions' matches before
    # ranking, which is cheaper than ranking every match in the workspace.
    order = "bm25(messages_fts)" if one_session else "messages_fts.rank"
    return (
        f"SELECT {_HIT}, snippet(messages_fts, 0, '{MATCH_START}', '{MATCH_END}', '…', 16)"
        " AS snip FROM messages_fts JOIN messages m ON m.message_no = messages_fts.rowid"
        f" JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ? AND {where}"
        f" ORDER BY {order} LIMIT ? OFFSET ?",
        [to_fts5(query)],
    )


# Workspace-wide, only the RANKED newest matches are ranked (more pages: the next multiple of
# it): ranking every match of a word in one message of five cost 40–70 ms at 100,000 sessions.
RANKED = 2000

# How many messages match, counting up to n (args: the query, n); the rowid (message_no) of the
# n-th newest match in a workspace (args: the query, the workspace, n - 1).
_COUNTED = "SELECT COUNT(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)"
_NTH = (
    "SELECT messages_fts.rowid FROM messages_fts"
    " JOIN messages m ON m.message_no = messages_fts.rowid"
    " JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ?"
    " AND s.workspace = ? ORDER BY messages_fts.rowid DESC LIMIT 1 OFFSET ?"
)


class MessageSearch:
    """Full-text search of the messages in `db` (History's)."""

    db: Database
    ranked: int = RANKED

    async def search(
        self,
        workspace: str,
        query: Query,
        *,
        session_id: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Ranked matches of a query tree, only in `workspace` (and one session when given).
        Workspace-wide, when more than `ranked` messages match, the `ranked` newest of them are
        ranked (the next multiple of it once `offset + limit` passes it)."""
        ranked = self.ranked * -(-max(offset + limit, 1) // self.ranked)
        wanted = Wanted(workspace, session_id, ranked, limit, offset)
        try:
            if self.db.dialect.name == "postgres":
                found = await search_tsvector.find(self.db, to_tsquery(query), wanted)
            else:
                found = await self._find_fts5(query, wanted)
        except StoreError as exc:
            if "fts5" in str(exc.__cause__):
                raise UsageError("That search query is not valid.") from exc
            raise
        return [
            SearchHit(r["session_id"], r["ref"], r["title"], r["id"], r["seq"],
                      MessageRole(r["role"]), r["author_id"], when_required(r["created_at"]),
                      snippet)
            for r, snippet in found
        ]  # fmt: skip

    async def _find_fts5(self, query: Query, wanted: Wanted) -> list[tuple[Row, str]]:
        where = "s.workspace = ?"
        args: list[Any] = [wanted.workspace]
        if wanted.session_id is not None:
            where += " AND m.session_id = ?"
            args.append(wanted.session_id)
        else:
            oldest = await self._oldest_ranked(query, wanted.workspace, wanted.ranked)
            if oldest is not None:
                where += " AND messages_fts.rowid >= ?"
                args.append(oldest)
        sql, params = _fts5(query, where, wanted.session_id is not None)
        found = await self.db.fetchall(sql, [*params, *args, wanted.limit, wanted.offset])
        return [(r, str(r["snip"])) for r in found]

    async def _oldest_ranked(self, query: Query, workspace: str, ranked: int) -> int | None:
        """The message_no of the oldest match to rank in the workspace, or None when all are:
        fewer than `ranked` match in all workspaces together (a rare word: one look in the
        index), or in this one."""
        text = to_fts5(query)
        found = await self.db.fetchone(_COUNTED, [text, ranked])
        if found is None or int(found[0]) < ranked:
            return None
        oldest = await self.db.fetchone(_NTH, [text, workspace, ranked - 1])
        return None if oldest is None else int(oldest[0])
