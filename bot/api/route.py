"""One API route as data: method, path, handler and the schemas that document and check it.

The route table (`bot.api.routes.ROUTES`) registers the aiohttp routes *and* writes the
OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.api.runtime import ApiContext
from bot.api.schemas import Schema, integer, string
from core.models import Actor


@dataclass(slots=True)
class Call:
    """A parsed, authenticated, validated request: what a handler needs and nothing else."""

    api: ApiContext
    actor: Actor
    path: dict[str, Any]
    query: dict[str, Any]
    body: dict[str, Any]
    request: web.Request


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: Schema
    description: str
    required: bool = False


# Every path placeholder the routes use, with its schema.
PATH_PARAMS: dict[str, Param] = {
    "session": Param(
        "session",
        string(min_length=1, max_length=64) | {"examples": ["1"]},
        "The session's ref (`42`) or full id.",
        required=True,
    ),
    "seq": Param(
        "seq", integer(1, 2**31 - 1) | {"examples": [1]}, "The message's seq in its session.", True
    ),
    "position": Param(
        "position",
        integer(1, 1000) | {"examples": [1]},
        "The plan item's position (1-based).",
        True,
    ),
    "key": Param(
        "key",
        string(min_length=1, max_length=200) | {"examples": ["branch"]},
        "A context key.",
        True,
    ),
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation. `response` is None for 204; `stream` routes write their own response."""

    method: str
    path: str
    name: str
    summary: str
    tag: str
    handler: Handler
    response: Schema | None = None
    status: int = 200
    body: Schema | None = None
    query: tuple[Param, ...] = ()
    public: bool = False
    stream: dict[str, Schema] = field(default_factory=dict)  # media type → schema

    @property
    def path_params(self) -> list[Param]:
        return [PATH_PARAMS[name] for name in _PLACEHOLDER.findall(self.path)]


__all__ = ["PATH_PARAMS", "Call", "Handler", "Param", "Route"]
