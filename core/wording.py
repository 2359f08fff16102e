"""How every renderer words a count ("1 item", "2 items") and a list ("a, b or c")."""

from __future__ import annotations

from collections.abc import Iterable

_IRREGULAR = {"match": "matches", "person": "people", "entry": "entries", "reply": "replies"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and the noun in the number it needs: `1 item`, `0 items`, `2 matches`."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun, noun + 's')}"


def noun_for(count: int, noun: str, many: str | None = None) -> str:
    """Only the noun, in the number `count` needs (for `3/5 items`, where the count is apart)."""
    return plural(count, noun, many).split(" ", 1)[1]


def article(word: str) -> str:
    """`a` or `an` before `word` (by its first letter, which is right for our status words)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def natural_list(words: Iterable[str], *, last: str = "or") -> str:
    """`a`, `a or b`, `a, b or c`: a list as a sentence says it."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


__all__ = ["article", "natural_list", "noun_for", "plural"]
