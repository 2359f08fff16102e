"""The one decision rule for everything people approve (plans and agents' requests).

N-of-M: one eligible rejection settles as rejected; N distinct approvals of the exact content
(a plan's items, a request's action and arguments) settle as approved; an approval by someone
who already approved counts once. Who is eligible, self-approval and expiry are checked by the
caller (`core.access`); compare-and-set on the decided row makes exactly one decision win.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models import Decision


@dataclass(frozen=True, slots=True)
class Tally:
    settles: bool
    approved: bool  # what it settles as (meaningless while it does not settle)
    approvals: int
    repeated: bool = False


def tally(approvers: set[str], need: int, user_id: str, decision: Decision) -> Tally:
    """What `user_id` deciding does, given who already approved the current content."""
    if decision is Decision.REJECT:
        return Tally(True, False, len(approvers))
    if user_id in approvers:
        return Tally(False, False, len(approvers), repeated=True)
    count = len(approvers) + 1
    return Tally(count >= need, True, count)
