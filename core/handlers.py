"""The registry of `/session` command handlers: the runner looks commands up here, and every
module that owns commands (the runner's own, history, jobs) registers them with `handles`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from core.grammar import Command
from core.models import Actor, ChatRef
from core.views import Reply, View

if TYPE_CHECKING:
    from core.runner import CommandRunner

Handler = Callable[["CommandRunner", Actor, ChatRef, Command], Awaitable[Reply]]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of one `/session` command (feature modules add their own)."""

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def said(view: View) -> Reply:
    """A reply the whole channel sees (the command changed something)."""
    return Reply(view, ephemeral=False)
