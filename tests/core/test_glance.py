"""The bar, the checklist marks and the words of progress at a glance."""

from __future__ import annotations

import pytest

from core import glance
from core.models import ItemStatus, PlanItem


def items(*statuses: str) -> list[PlanItem]:
    return [PlanItem(n, f"item {n}", status=ItemStatus(s)) for n, s in enumerate(statuses, 1)]


@pytest.mark.parametrize(
    ("statuses", "bar", "words"),
    [
        (("done", "done", "done", "blocked", "todo"), "▰▰▰▱▱ 60 %", "3 of 5 items done (60 %)"),
        (("todo",), "▱▱▱▱▱ 0 %", "0 of 1 item done (0 %)"),
        (("done",) * 2, "▰▰▰▰▰ 100 %", "2 of 2 items done (100 %)"),
        # a little done shows a cell; nearly all is not yet a full bar
        (("done",) + ("todo",) * 9, "▰▱▱▱▱ 10 %", "1 of 10 items done (10 %)"),
        (("done",) * 9 + ("todo",), "▰▰▰▰▱ 90 %", "9 of 10 items done (90 %)"),
        # skipped items do not count towards the total
        (("done", "skipped", "todo"), "▰▰▱▱▱ 50 %", "1 of 2 items done (50 %), 1 skipped"),
        (("skipped",), "▰▰▰▰▰ 100 %", "0 of 0 items done (100 %), 1 skipped"),
    ],
)
def test_bar_and_words(statuses: tuple[str, ...], bar: str, words: str) -> None:
    progress = glance.tally(items(*statuses))
    assert (glance.bar(progress), glance.in_words(progress)) == (bar, words)


def test_every_item_status_has_its_own_mark() -> None:
    marks = [glance.check(status) for status in ItemStatus]
    assert len(set(marks)) == len(ItemStatus)
    assert [glance.check(ItemStatus(s)) for s in ("done", "in_progress", "blocked", "todo")] == [
        "✅", "⏳", "⛔", "⬜",
    ]  # fmt: skip
