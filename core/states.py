"""The session status table of §2: every transition is checked here and only here."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from core.errors import InvalidTransition
from core.models import ENDED_STATUSES, Status

A, P, N = Status.ACTIVE, Status.PAUSED, Status.PENDING
C, F, X, T = Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT
AB, AR = Status.ABANDONED, Status.ARCHIVED


class Action(StrEnum):
    """Everything that is allowed in some statuses and not in others."""

    SUBMIT_PLAN = "submit a plan"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire the plan"
    REREQUEST = "re-request approval"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    TIME_OUT = "time out"
    EXTEND = "extend"
    ABANDON = "abandon"
    ARCHIVE = "archive"
    ITERATE = "record an iteration"
    RECORD = "record an event"
    MODIFY = "modify the plan"
    SHARE = "share"
    NOTE = "add a note"


def _same(*statuses: Status) -> dict[Status, Status]:
    return {s: s for s in statuses}


_WORKING = (A, P, N)
_ENDED = tuple(s for s in Status if s in ENDED_STATUSES)

# action -> {current status: next status}; a status missing from the map is not allowed.
TRANSITIONS: dict[Action, dict[Status, Status]] = {
    Action.SUBMIT_PLAN: {A: N, P: N, N: N},
    Action.APPROVE: {N: A},
    Action.REJECT: {N: P},
    Action.EXPIRE: {N: P},
    Action.REREQUEST: {P: N},
    Action.PAUSE: {A: P},
    Action.RESUME: {P: A, AB: A},
    Action.COMPLETE: dict.fromkeys(_WORKING, C),
    Action.FAIL: dict.fromkeys(_WORKING, F),
    Action.CANCEL: dict.fromkeys(_WORKING, X),
    Action.TIME_OUT: {A: T},
    Action.EXTEND: {**_same(A, P, N), T: A},
    Action.ABANDON: dict.fromkeys(_WORKING, AB),
    Action.ARCHIVE: dict.fromkeys(_ENDED, AR),
    Action.ITERATE: _same(A),
    Action.RECORD: _same(*_WORKING),
    Action.MODIFY: _same(*_WORKING),
    Action.SHARE: _same(*_WORKING, *_ENDED),
    Action.NOTE: _same(*_WORKING, *_ENDED),
}


# The `/session` command that performs an action; the others are the bot's own moves
# (expiry, time-out, abandoning) or a button (re-requesting), so hints never offer them.
COMMAND_OF: dict[Action, str] = {
    Action.SUBMIT_PLAN: "plan",
    Action.APPROVE: "approve",
    Action.REJECT: "reject",
    Action.RESUME: "resume",
    Action.PAUSE: "pause",
    Action.COMPLETE: "complete",
    Action.FAIL: "fail",
    Action.CANCEL: "cancel",
    Action.EXTEND: "extend",
    Action.ARCHIVE: "archive",
}


def next_status(current: Status, action: Action, *, ref: int) -> Status:
    """The status after `action`, or InvalidTransition naming the commands that would work
    (Access narrows them to what the person could run: `allowed_from(current, may)`)."""
    allowed = TRANSITIONS[action]
    if current not in allowed:
        raise InvalidTransition(
            ref=ref, action=action.value, status=current.value, allowed=allowed_from(current)
        )
    return allowed[current]


def allowed_from(current: Status, may: Callable[[Action], bool] | None = None) -> list[str]:
    """The commands that move a session on from `current` (those `may` allows, if given)."""
    return [
        COMMAND_OF[action]
        for action, table in TRANSITIONS.items()
        if action in COMMAND_OF
        and current in table
        and table[current] is not current
        and (may is None or may(action))
    ]
