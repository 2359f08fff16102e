"""Search on PostgreSQL: the matches to rank, found without visiting every one (search.py).

Workspace-wide, the `ranked` newest matches of the workspace are ranked (every match when fewer
match); in one session, every match. Each message keeps its session's workspace beside its
`tsvector` (`search_workspace`, migration 0011), so no match is joined to its session before
the page is cut. Up to three statements, cheapest first:

- `_COUNT`: how many messages of the workspace match, counting up to `ranked` (the GIN index,
  then the table until `ranked` rows are found; a rare word costs one look in the index, which
  keeps no pending list since 0011).
- `_WALK` (when `ranked` or more match): the workspace's live messages newest first
  (`messages_search_newest`), each tested against the query, until `ranked` match — about
  10,000 rows for the 2,000 newest of a word in one message of five. It looks at `WALKED` ×
  `ranked` rows at most: a word too sparse for that is gathered instead.
- `_GATHER` (fewer match, a walk that met too few, one session): every match (from the GIN
  index, or the session's own messages), the `ranked` newest kept.

Then `ts_rank` runs on the kept rows only, and the session lookup and `ts_headline` (the
costly part) on the page's rows only. The query is parsed once per statement, in a CTE read
through a scalar subquery, so the planner never knows the words: a statement keeps one plan
for a rare word and a common one alike, also once PostgreSQL switches asyncpg's prepared
statement to a generic plan after five runs (a plan chosen for a common word walked every
message for a rare one). `_GATHER` orders by `message_no + 0`, which no index offers, so it
never becomes a walk; the bounds are numbers in the text, so no plan reads the whole table
hoping to meet `ranked` matches early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.records.history import MATCH_END, MATCH_START
from core.store.db import Database, Row

if TYPE_CHECKING:
    from core.store.search import TsQuery

WALKED = 8  # a walk looks at up to WALKED × ranked messages: words in 1 of 8 or more

_ELLIPSIS = "…"
_ADJACENT = re.compile(
    f"{MATCH_START}([^{MATCH_END}]+){MATCH_END}(\\s+){MATCH_START}([^{MATCH_END}]+){MATCH_END}"
)
# ts_headline: one fragment of at most 16 words (FTS5's snippet length), short words kept.
_HEADLINE = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=16, MinWords=8, ShortWord=0,"
    " HighlightAll=false"
)
_QUERY = "(SELECT q FROM q)"

# The bounds are numbers in the text, not parameters: a generic plan takes a parameter's LIMIT
# for a tenth of the rows, and then (a GIN index with a long pending list costing more) read
# the table from its start rather than the index, 40 ms for a rare word at 100,000 sessions.
_COUNT = (
    "WITH q AS MATERIALIZED (SELECT to_tsquery('sessionbot_search', ?) AS q)"
    f" SELECT COUNT(*) FROM (SELECT 1 FROM messages m WHERE m.search @@ {_QUERY}"
    " AND m.search_workspace = ? LIMIT {ranked:d}) AS found"
)
# The newest statements: (message_no, search) of the rows to rank, newest first.
_WALK = (
    "SELECT r.message_no, r.search FROM (SELECT m.message_no, m.search FROM messages m"
    " WHERE m.search_workspace = ? AND m.search IS NOT NULL ORDER BY m.message_no DESC"
    f" LIMIT {{walked:d}}) AS r WHERE r.search @@ {_QUERY}"
    " ORDER BY r.message_no DESC LIMIT {ranked:d}"
)
_GATHER = (
    f"SELECT m.message_no, m.search FROM messages m WHERE m.search @@ {_QUERY} AND {{where}}"
    " ORDER BY m.message_no + 0 DESC LIMIT {ranked}"
)
_ONE_SESSION = "m.search_workspace = ? AND m.session_id = ?"
# The page of the kept rows, with their count (`kept`), each with its session and headline.
_PAGE = (
    "WITH q AS MATERIALIZED (SELECT to_tsquery('sessionbot_search', ?) AS q),"
    f" newest AS ({{newest}}), page AS (SELECT n.message_no, ts_rank(n.search, {_QUERY}, 1)"
    " AS rank, COUNT(*) OVER () AS kept FROM newest n ORDER BY rank DESC, n.message_no DESC"
    " LIMIT ? OFFSET ?)"
    " SELECT m.id, m.session_id, m.seq, m.role, m.author_id, m.created_at, m.content, s.ref,"
    f" s.title, p.kept, ts_headline('sessionbot_search', m.content, {_QUERY}, ?) AS snip"
    " FROM page p JOIN messages m ON m.message_no = p.message_no"
    " JOIN sessions s ON s.id = m.session_id ORDER BY p.rank DESC, p.message_no DESC"
)


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


@dataclass(frozen=True, slots=True)
class Wanted:
    """The page a search asks for: in `workspace` (and one session when given), the `ranked`
    newest matches ranked (workspace-wide), `limit` of them from `offset`."""

    workspace: str
    session_id: str | None
    ranked: int
    limit: int
    offset: int


async def find(db: Database, query: TsQuery, wanted: Wanted) -> list[tuple[Row, str]]:
    """The page of matches, each row with its snippet: in one session every match ranked,
    workspace-wide the `ranked` newest."""
    ws, ranked = wanted.workspace, wanted.ranked

    async def page(newest: str, scope: list[str | None]) -> list[Row]:
        args = [query.text, *scope, wanted.limit, wanted.offset, _HEADLINE]
        return await db.fetchall(_PAGE.format(newest=newest), args)

    if wanted.session_id is not None:
        found = await page(
            _GATHER.format(where=_ONE_SESSION, ranked="ALL"), [ws, wanted.session_id]
        )
    else:
        gather = _GATHER.format(where="m.search_workspace = ?", ranked=ranked)
        counted = await db.fetchone(_COUNT.format(ranked=ranked), [query.text, ws])
        if counted is None or int(counted[0]) < ranked:
            found = await page(gather, [ws])
        else:
            found = await page(_WALK.format(walked=WALKED * ranked, ranked=ranked), [ws])
            if not found or int(found[0]["kept"]) < ranked:  # too sparse to walk to
                found = await page(gather, [ws])
    return [(r, _snippet(r["snip"], r["content"], query.phrase_pairs)) for r in found]
