"""Progress at a glance: a plan's items as a bar and a checklist, and the same facts in words.

The glyphs are the rich part (cards on Slack, Discord and the console); `in_words` is what a
notification or a screen reader gets instead ("3 of 5 items done (60 %)"), never the glyphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.models import ItemStatus, PlanItem
from core.wording import noun_for

BAR_CELLS = 5
FILLED, EMPTY = "▰", "▱"
CHECKS = {
    ItemStatus.DONE: "✅",
    ItemStatus.IN_PROGRESS: "⏳",
    ItemStatus.BLOCKED: "⛔",
    ItemStatus.TODO: "⬜",
    ItemStatus.SKIPPED: "➖",
}


@dataclass(frozen=True, slots=True)
class Tally:
    """How far a plan is: items done out of those that count (skipped items do not)."""

    done: int
    counted: int
    skipped: int = 0

    @property
    def percent(self) -> int:
        return 100 if self.counted == 0 else self.done * 100 // self.counted


def tally(items: Sequence[PlanItem]) -> Tally:
    skipped = sum(1 for i in items if i.status is ItemStatus.SKIPPED)
    done = sum(1 for i in items if i.status is ItemStatus.DONE)
    return Tally(done, len(items) - skipped, skipped)


def bar(progress: Tally) -> str:
    """`▰▰▰▱▱ 60 %`: a cell is filled only for work done, and the bar is full only when all is."""
    if progress.counted == 0:
        filled = BAR_CELLS
    else:
        filled = progress.done * BAR_CELLS // progress.counted
        if 0 < progress.done < progress.counted:
            filled = min(max(filled, 1), BAR_CELLS - 1)
    return f"{FILLED * filled}{EMPTY * (BAR_CELLS - filled)} {progress.percent} %"


def in_words(progress: Tally) -> str:
    """`3 of 5 items done (60 %)`, and how many were skipped."""
    text = (
        f"{progress.done} of {progress.counted} {noun_for(progress.counted, 'item')} done"
        f" ({progress.percent} %)"
    )
    return text + (f", {progress.skipped} skipped" if progress.skipped else "")


def check(status: ItemStatus) -> str:
    """The checklist mark of an item's status."""
    return CHECKS[status]
