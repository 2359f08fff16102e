"""Starts one chat adapter in the background: retries an unreachable platform with backoff,
and reports a refused credential (ConfigError) once, to stop the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from core.errors import ConfigError

_log = logging.getLogger(__name__)

FIRST_RETRY = 1.0  # seconds before the second attempt; doubled after each failure
MAX_RETRY = 60.0
START_TIMEOUT = 30.0  # an attempt that hangs (a silent firewall) counts as failed


class Startable(Protocol):
    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready_problem(self) -> str | None: ...


class AdapterSupervisor:
    """Keeps trying `adapter.start()` until it succeeds, the credential is refused, or stop."""

    def __init__(
        self,
        adapter: Startable,
        *,
        on_refused: Callable[[ConfigError], None],
        first_retry: float = FIRST_RETRY,
        max_retry: float = MAX_RETRY,
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self._on_refused = on_refused
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._problem: str | None = "starting"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"start-{self.name}")

    async def _run(self) -> None:
        delay = self._first_retry
        while True:
            try:
                async with asyncio.timeout(START_TIMEOUT):
                    await self.adapter.start()
            except ConfigError as exc:
                self._problem = f"credential refused: {exc.message}"
                self._on_refused(exc)
                return
            except Exception as exc:  # unreachable, 5xx, timeout: the platform may come back
                reason = _short(exc)
                # /readyz is unauthenticated: the class only, never hosts or addresses.
                self._problem = f"unavailable ({exc.__class__.__name__}); retrying"
                _log.warning("%s is unavailable (%s); retrying in %gs", self.name, reason, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)
            else:
                self._problem = None
                return

    async def cancel(self) -> None:
        """Stop trying (at shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ready_problem(self) -> str | None:
        if self._problem is not None:
            return self._problem
        return await self.adapter.ready_problem()


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
