"""Wake-up keys: what a committed unit tells the waiters of this process and of the others.

A unit names what it changed as it writes (`Tx.wake`): the events (or the row) of a session, a
request, the outbox, the days a deleted session counted in. After the commit the store calls
its wake listeners with those keys (on the event loop, whichever thread committed); on
PostgreSQL the same keys go to the other replicas by NOTIFY inside the unit's transaction, so
they fire exactly at commit (postgres/engine.py). A listener that receives `ANY` (a replica's
LISTEN connection came back after a loss, so some keys may have been missed) wakes everything
it watches.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

OUTBOX = "outbox"
ANY = "*"
_EVENTS = "events:"
_REQUEST = "request:"
_DAY = "day:"


def events(session_id: str) -> str:
    return _EVENTS + session_id


def request(request_id: str) -> str:
    return _REQUEST + request_id


def day(workspace: str, when: date) -> str:
    """A day whose tallies changed without a session left to name (a deleted one's days)."""
    return f"{_DAY}{workspace}:{when.isoformat()}"


def days(keys: Iterable[str]) -> list[tuple[str, date]]:
    """The (workspace, day) of the `day` keys among `keys`."""
    found = []
    for key in keys:
        if key.startswith(_DAY):
            workspace, _, when = key[len(_DAY) :].rpartition(":")
            found.append((workspace, date.fromisoformat(when)))
    return found


def ids(keys: Iterable[str], kind: str) -> list[str]:
    """The ids of `kind` (`events` or `request`) among `keys`."""
    prefix = f"{kind}:"
    return [key[len(prefix) :] for key in keys if key.startswith(prefix)]
