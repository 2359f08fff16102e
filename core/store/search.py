"""Full-text search of messages: FTS5 on SQLite, a tsvector column on PostgreSQL.

The one place where two SQL texts sit side by side, chosen by the dialect: the engines' search
features share no syntax. Core turns what people type into a small tree (core/records/search.py):
words and phrases, prefixes, all-of / any-of / but-not. Each engine gets it as its own query
text — an FTS5 expression of quoted strings, or `to_tsquery` text of quoted phrases (`<->`
between the words, which the database's parser splits as it split the indexed text).

Differences, as far as the engines allow: a prefix phrase (`"deploy roll"*`) matches every
word as a prefix on PostgreSQL, only the last one on SQLite; ranking is `ts_rank` (term
frequency over document length) where SQLite uses bm25 (which also weighs how rare a word is
in the corpus). PostgreSQL's headline is reshaped like FTS5's snippet (`_snippet`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import StoreError, UsageError
from core.records.history import MATCH_END, MATCH_START, MessageRole, SearchHit
from core.records.search import AllOf, AnyOf, Query, Term, Without
from core.store.codec import when_required
from core.store.db import Database, Row

_WORD = re.compile(r"\w+")
_ELLIPSIS = "…"
_ADJACENT = re.compile(
    f"{MATCH_START}([^{MATCH_END}]+){MATCH_END}(\\s+){MATCH_START}([^{MATCH_END}]+){MATCH_END}"
)
# ts_headline: one fragment of at most 16 words (FTS5's snippet length), short words kept.
_HEADLINE = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=16, MinWords=8, ShortWord=0,"
    " HighlightAll=false"
)
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


def _snippet(headline: str, content: str, pairs: frozenset[tuple[str, str]]) -> str:
    """FTS5's snippet shape: a phrase is one marked run, and `…` shows where text was cut."""

    def join(match: re.Match[str]) -> str:
        before, gap, after = match.groups()
        if (before.split()[-1].lower(), after.split()[0].lower()) in pairs:
            return f"{MATCH_START}{before}{gap}{after}{MATCH_END}"
        return match.group(0)

    snippet, merged = "", headline
    while merged != snippet:  # merge runs pairwise until no adjacent pair of a phrase is apart
        snippet, merged = merged, _ADJACENT.sub(join, merged)
    plain = snippet.replace(MATCH_START, "").replace(MATCH_END, "").strip()
    text = content.strip()
    if plain and not text.startswith(plain[:20]):
        snippet = _ELLIPSIS + snippet
    if plain and not text.endswith(plain[-20:]):
        snippet += _ELLIPSIS
    return snippet


# A statement: its text, the values bound before the scope's, and how a row's snippet is read.
Statement = tuple[str, list[Any], Callable[[Row], str]]


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
        lambda row: str(row["snip"]),
    )


def _tsvector(query: Query, where: str, one_session: bool) -> Statement:
    # The GIN index finds the matches; the headline (the costly part) is made only for the
    # page of rows returned.
    tsquery = to_tsquery(query)
    return (
        "SELECT hit.*, ts_headline('sessionbot_search', hit.content, hit.q, ?) AS snip"
        f" FROM (SELECT m.message_no, {_HIT}, m.content, q.q, ts_rank(m.search, q.q, 1) AS rank"
        " FROM to_tsquery('sessionbot_search', ?) AS q (q)"
        " JOIN messages m ON m.search @@ q.q JOIN sessions s ON s.id = m.session_id"
        f" WHERE {where} ORDER BY rank DESC, m.message_no DESC LIMIT ? OFFSET ?) hit"
        " ORDER BY hit.rank DESC, hit.message_no DESC",
        [_HEADLINE, tsquery.text],
        lambda row: _snippet(row["snip"], row["content"], tsquery.phrase_pairs),
    )


_STATEMENTS = {"sqlite": _fts5, "postgres": _tsvector}

# Workspace-wide, only the RANKED newest matches are ranked (more pages: the next multiple of
# it): ranking every match of a word in one message of five cost 40–70 ms at 100,000 sessions.
RANKED = 2000


def _newest(query: Query, dialect: str) -> tuple[str, str, list[Any], str]:
    """Two statements: how many messages match, counting up to n (args: their own, n), and the
    message_no of the n-th newest match in a workspace (args: their own, the workspace, n - 1);
    with the column a bound on it applies to."""
    if dialect == "sqlite":
        return (
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)",
            "SELECT messages_fts.rowid FROM messages_fts"
            " JOIN messages m ON m.message_no = messages_fts.rowid"
            " JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ?"
            " AND s.workspace = ? ORDER BY messages_fts.rowid DESC LIMIT 1 OFFSET ?",
            [to_fts5(query)],
            "messages_fts.rowid",
        )
    match = "m.search @@ to_tsquery('sessionbot_search', ?)"
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM messages m WHERE {match} LIMIT ?) AS found",
        f"SELECT m.message_no FROM messages m JOIN sessions s ON s.id = m.session_id"
        f" WHERE {match} AND s.workspace = ? ORDER BY m.message_no DESC LIMIT 1 OFFSET ?",
        [to_tsquery(query).text],
        "m.message_no",
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
        where = "s.workspace = ?"
        args: list[Any] = [workspace]
        try:
            if session_id is not None:
                where += " AND m.session_id = ?"
                args.append(session_id)
            else:
                bound = await self._oldest_ranked(query, workspace, offset + limit)
                if bound is not None:
                    where += f" AND {bound[0]} >= ?"
                    args.append(bound[1])
            statement = _STATEMENTS[self.db.dialect.name]
            sql, params, snippet = statement(query, where, session_id is not None)
            found = await self.db.fetchall(sql, [*params, *args, limit, offset])
        except StoreError as exc:
            if "fts5" in str(exc.__cause__):
                raise UsageError("That search query is not valid.") from exc
            raise
        return [
            SearchHit(r["session_id"], r["ref"], r["title"], r["id"], r["seq"],
                      MessageRole(r["role"]), r["author_id"], when_required(r["created_at"]),
                      snippet(r))
            for r in found
        ]  # fmt: skip

    async def _oldest_ranked(
        self, query: Query, workspace: str, shown: int
    ) -> tuple[str, int] | None:
        """(column, message_no) of the oldest match to rank in the workspace, or None when all
        are: fewer than the bound match in all workspaces together (a rare word: one look in
        the index, with no order to tempt PostgreSQL's planner into walking every message
        newest first, as a generic plan of the second statement does), or in this one."""
        ranked = self.ranked * -(-shown // self.ranked)
        counted, nth, params, column = _newest(query, self.db.dialect.name)
        found = await self.db.fetchone(counted, [*params, ranked])
        if found is None or int(found[0]) < ranked:
            return None
        oldest = await self.db.fetchone(nth, [*params, workspace, ranked - 1])
        return None if oldest is None else (column, int(oldest[0]))
