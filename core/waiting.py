"""Notices that wait for a chat adapter no one runs here.

A workspace is named `<platform>:<id>` (`slack:T0123`); its notices go out through that
platform's adapter. A token for `slack:T0123` in a deployment without Slack is valid (the REST
API works), but its notices stay `pending` in the outbox until a process with a Slack adapter
runs. Nothing is wrong with that, so it is information rather than an error: `sessionbot token
create` says so, `serve` logs it once at start, `/readyz` lists it (still 200) and
`/session stats` counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Protocol


class PendingByWorkspace(Protocol):
    async def pending_by_workspace(self) -> dict[str, int]: ...


def platform_of(workspace: str) -> str:
    """`slack:T0123` → `slack`."""
    return workspace.split(":", 1)[0]


async def waiting_notices(outbox: PendingByWorkspace, platforms: Collection[str]) -> dict[str, int]:
    """Pending chat notices per workspace whose platform is not among `platforms`."""
    counts = await outbox.pending_by_workspace()
    return {ws: n for ws, n in sorted(counts.items()) if platform_of(ws) not in platforms}


def by_platform(waiting: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """`{"slack": {"slack:T1": 3}, …}`: the same counts grouped by platform."""
    grouped: dict[str, dict[str, int]] = {}
    for workspace, count in waiting.items():
        grouped.setdefault(platform_of(workspace), {})[workspace] = count
    return grouped


async def waiting_total(
    outbox: PendingByWorkspace, platforms: Callable[[], Collection[str]] | None
) -> int:
    """How many notices wait for an adapter; 0 where the platforms served are unknown."""
    if platforms is None:
        return 0
    return sum((await waiting_notices(outbox, platforms())).values())
