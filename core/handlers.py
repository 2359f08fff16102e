"""What a `/session` command handler is. Each module that owns commands (the runner's own,
history, jobs) lists them in a `HANDLERS` table of its own; the runner joins those tables
explicitly (`joined`), so no handler is registered by the side effect of an import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from core.grammar import Command
from core.models import Actor, ChatRef
from core.views import Reply, View

if TYPE_CHECKING:
    from core.wiring import Services

# A handler gets the use cases of the process, who acts, where, and the parsed command.
Handler = Callable[["Services", Actor, ChatRef, Command], Awaitable[Reply]]


def joined(*tables: Mapping[str, Handler]) -> dict[str, Handler]:
    """One table from the per-module ones; a command claimed twice is a programming error."""
    handlers: dict[str, Handler] = {}
    for table in tables:
        twice = handlers.keys() & table.keys()
        if twice:
            raise ValueError(f"commands handled twice: {sorted(twice)}")
        handlers.update(table)
    return handlers


def said(view: View) -> Reply:
    """A reply the whole channel sees (the command changed something)."""
    return Reply(view, ephemeral=False)
