"""The search expression (core's FTS5 form) as a PostgreSQL tsquery.

Core turns what people type into a small FTS5 expression (`core/history/search.py`): quoted
terms, `"term" *` prefixes, AND / OR / NOT and parentheses. This module parses that form and
writes the same query as `to_tsquery` text: each term becomes a quoted tsquery phrase
(`'rolled back'`, the words next to each other, `<->`), a prefix gets `:*`, and
`a NOT b` becomes `a & !b`. The database's own parser splits each phrase into words, the
same way it split the indexed text.

Differences from FTS5, as far as the engines allow: a prefix phrase (`"deploy roll"*`)
matches every word as a prefix on PostgreSQL, only the last one on SQLite; ranking is
`ts_rank` (term frequency over document length) where SQLite uses bm25 (which also weighs
how rare a word is in the corpus).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from core.errors import UsageError

_OPERATORS = {"AND": "&", "OR": "|"}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class TsQuery:
    """The `to_tsquery` text, and the word pairs adjacent inside a phrase (for snippets)."""

    text: str
    phrase_pairs: frozenset[tuple[str, str]]


def _invalid() -> UsageError:
    return UsageError("That search query is not valid.")


def _tokens(expression: str) -> list[str]:
    """`(`, `)`, `*`, operators, and terms as `"text"` (quotes kept, `""` unescaped)."""
    found: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        c = expression[i]
        if c.isspace():
            i += 1
        elif c in "()*":
            found.append(c)
            i += 1
        elif c == '"':
            text: list[str] = []
            i += 1
            while True:
                end = expression.find('"', i)
                if end < 0:
                    raise _invalid()
                text.append(expression[i:end])
                if expression.startswith('""', end):
                    text.append('"')
                    i = end + 2
                    continue
                i = end + 1
                break
            found.append('"' + "".join(text) + '"')
        else:
            j = i
            while j < n and not expression[j].isspace() and expression[j] not in '()*"':
                j += 1
            found.append(expression[i:j])
            i = j
    return found


def _lexeme(text: str, *, prefix: bool) -> str:
    """A term as a quoted tsquery operand; quotes and backslashes escaped."""
    body = text.replace("\\", "\\\\").replace("'", "''")
    return f"'{body}'" + (":*" if prefix else "")


class _Parser:
    """FTS5's precedence: NOT binds tightest, then AND (also implied), then OR."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0
        self.pairs: set[tuple[str, str]] = set()

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _invalid()
        self.at += 1
        return token

    def parse(self) -> str:
        query = self.either()
        if self.peek() is not None:
            raise _invalid()
        return query

    def either(self) -> str:
        parts = [self.both()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else " | ".join(f"({p})" for p in parts)

    def both(self) -> str:
        parts = [self.without()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            parts.append(self.without())
        return parts[0] if len(parts) == 1 else " & ".join(f"({p})" for p in parts)

    def without(self) -> str:
        query = self.atom()
        while self.peek() == "NOT":
            self.take()
            query = f"({query}) & !({self.atom()})"
        return query

    def atom(self) -> str:
        token = self.take()
        if token == "(":
            inner = self.either()
            if self.take() != ")":
                raise _invalid()
            return inner
        if token in (")", "*", "NOT", *_OPERATORS):
            raise _invalid()
        text = token[1:-1] if token.startswith('"') else token
        words = _WORD.findall(text.lower())
        self.pairs.update(itertools.pairwise(words))
        prefix = self.peek() == "*"
        if prefix:
            self.take()
        return _lexeme(text, prefix=prefix)


def to_tsquery(expression: str) -> TsQuery:
    """The `to_tsquery` text for an FTS5 expression, or UsageError when it is malformed."""
    if not expression.strip():
        raise _invalid()
    parser = _Parser(_tokens(expression))
    return TsQuery(parser.parse(), frozenset(parser.pairs))
