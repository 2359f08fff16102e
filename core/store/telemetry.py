"""What a store tells an operator: how long its operations take and cheap counts for metrics.

The bot turns these into Prometheus metrics; core never imports a metrics library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# Told of every database operation: (kind, seconds), kind being `write` (a unit of work until
# its commit is durable), `read` or `raw` (pragmas, scripts). Called on the event loop.
OperationObserver = Callable[[str, float], None]

# Chat notices not yet delivered, per workspace (webhook rows go out whatever the platform).
PENDING_BY_WORKSPACE = (
    "SELECT workspace, COUNT(*) FROM outbox WHERE status = 'pending' AND kind != 'webhook'"
    " GROUP BY workspace"
)


class TelemetryStore(Protocol):
    """Operation timings and counts cheap enough to read at every metrics scrape."""

    def observe_operations(self, observer: OperationObserver | None) -> None: ...
