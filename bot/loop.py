"""The event loop the process runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv, in C) spends less CPU per socket event and per callback than asyncio's
selector loop, which is most of what a Slack command costs the bot besides its own work. It is
a dependency on Linux/CPython only; elsewhere, or when it cannot be imported, the standard
loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default loop) when uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the fastest loop available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
