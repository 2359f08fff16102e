"""How often activity on a session is written: coalesced, but never long enough to lose it.

Every command on a session records activity (its `last_activity_at`, and a later abandonment
deadline). Writing that on every note would cost a write per message, so writes are coalesced:
one is skipped when the last recorded activity is younger than the window. The window is the
configured `touch_every` (30 s by default) but never more than a tenth of the session's
`abandon_after`, so a session that is being used is never warned about or abandoned as idle,
even with an `abandon_after` of a few seconds (tests, demos). The stores are given the window;
they do not restate this rule.
"""

from __future__ import annotations

from datetime import timedelta

SHARE_OF_ABANDON_AFTER = 10


def coalescing_window(touch_every: timedelta, abandon_after: timedelta) -> timedelta:
    """The longest activity may go unwritten for a session with this `abandon_after`."""
    return min(touch_every, abandon_after / SHARE_OF_ABANDON_AFTER)
