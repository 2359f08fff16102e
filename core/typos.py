"""Which known word a mistyped one most likely meant (commands, choices): the suggestion of
"There is no command `strat`. Did you mean `start`?"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def suggest(
    word: str, candidates: Iterable[str], *, weights: Mapping[str, int] | None = None
) -> str | None:
    """The candidate `word` most likely meant: the fewest typing mistakes (Damerau-Levenshtein,
    at most 1 for words of up to 4 letters, else 2), ties going to the more used one."""
    word = word.lower()
    limit = 1 if len(word) <= 4 else 2
    scored = [(_distance(word, c), -(weights or {}).get(c, 0), c) for c in candidates]
    close = sorted(s for s in scored if s[0] <= limit)
    return close[0][2] if close else None


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]
