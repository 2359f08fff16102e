"""Message search: the query language people type, checked here and turned into a query tree.

    deploy failed          both words (AND is implied)
    deploy AND failed      the same; OR and NOT too (`deploy NOT staging`), with ( )
    "exact phrase"         the words next to each other
    roll*                  a prefix: rollback, rollout, …

The tree (core/records/search.py) holds plain words and phrases; each store renders it for its
engine with every word quoted, so no column filter, NEAR or stray syntax a user types can
change what is searched; the workspace scope is applied by the store in SQL.
A malformed query is a UsageError that says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import UsageError
from core.models import Actor, Session
from core.records.history import SearchHit
from core.records.search import AllOf, AnyOf, Query, Term, Without

if TYPE_CHECKING:
    from core.history.messages import HistoryService

MAX_QUERY = 500
MAX_TERMS = 32
MAX_DEPTH = 16  # nested parentheses
RESULTS = 10
OPERATORS = ("AND", "OR", "NOT")
_USAGE = '/session search <query…> [in:<ref>]  (words, "exact phrase", prefix*, AND/OR/NOT)'


@dataclass(slots=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    session: Session | None


def _bad(message: str) -> UsageError:
    return UsageError(f"Can't search for that: {message}", usage=_USAGE)


def _tokens(query: str) -> list[str]:
    """Split into `(`, `)`, operators, `"phrase"` / `"phrase"*` and words (`word*`)."""
    found: list[str] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            found.append(c)
            i += 1
        elif c == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise _bad("a quote is not closed.")
            star = end + 1 < n and query[end + 1] == "*"
            found.append(query[i : end + 1] + ("*" if star else ""))
            i = end + 1 + star
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            found.append(query[i:j])
            i = j
    return found


def _term(token: str) -> Term:
    """One word or phrase (a trailing `*` makes it a prefix)."""
    prefix = token.endswith("*")
    body = token[:-1] if prefix else token
    if body.startswith('"'):
        body = body[1:-1]
    elif "*" in body:
        raise _bad(f"`*` goes at the end of a word, like `roll*` (not `{token[:30]}`).")
    if not body.strip():
        raise _bad("a `*` or an empty phrase needs some letters, like `roll*`.")
    return Term(body, prefix)


class _Parser:
    """Recursive descent, NOT binding tightest, then AND (also implied), then OR.

    or := and (OR and)* ; and := not ([AND] not)* ; not := atom (NOT atom)* ; atom := term | (or)
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0
        self.terms = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Query:
        query = self.either()
        extra = self.peek()
        if extra is not None:
            raise _bad("a `)` has no matching `(`." if extra == ")" else f"unexpected `{extra}`.")
        return query

    def either(self) -> Query:
        parts = [self.both()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def both(self) -> Query:
        parts = [self.without()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            parts.append(self.without())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def without(self) -> Query:
        query = self.atom()
        while self.peek() == "NOT":
            self.take()
            query = Without(query, self.atom())
        return query

    def atom(self) -> Query:
        token = self.peek()
        if token is None:
            raise _bad("it ends too early; an operator or `(` needs a word after it.")
        if token in OPERATORS:
            raise _bad(f"`{token}` needs a word on each side, like `deploy {token} failed`.")
        if token == ")":
            raise _bad("a `)` has no matching `(`, or `()` is empty.")
        self.take()
        if token == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _bad(f"it nests `(` more than {MAX_DEPTH} deep.")
            inner = self.either()
            if self.peek() != ")":
                raise _bad("a `(` is not closed.")
            self.take()
            self.depth -= 1
            return inner
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _bad(f"it has more than {MAX_TERMS} words.")
        return _term(token)


def parse_query(query: str) -> Query:
    """The query tree of what a person typed, or a UsageError saying what is wrong."""
    query = query.strip()
    if not query:
        raise _bad("the query is empty.")
    if len(query) > MAX_QUERY:
        raise _bad(f"the query is longer than {MAX_QUERY} characters.")
    if not any(ch.isalnum() for ch in query):
        raise _bad("there are no words in it.")
    return _Parser(_tokens(query)).parse()


async def search(
    history: HistoryService,
    actor: Actor,
    query: str,
    *,
    ref: str | None = None,
    limit: int = RESULTS,
    offset: int = 0,
) -> SearchResults:
    """Ranked matches in the actor's workspace (any member may search), optionally one session."""
    parsed = parse_query(query)
    session = await history.find(actor, ref) if ref is not None else None
    hits = await history.store.history.search(
        actor.workspace,
        parsed,
        session_id=session.id if session else None,
        limit=limit,
        offset=offset,
    )
    return SearchResults(query.strip(), hits, session)
