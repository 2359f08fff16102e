"""One API route as data: method, path, handler and the records that document and check it.

The route table (`bot.api.routes.ROUTES`) registers the aiohttp routes *and* writes the
OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from bot.api.models import MAX_INT
from bot.api.runtime import ApiContext
from bot.api.schemas import Schema, schema
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
    """A path or query parameter; `kind` is its (annotated) type."""

    name: str
    kind: Any
    description: str
    required: bool = False

    @property
    def schema(self) -> Schema:
        return schema(self.kind)


def text(low: int, high: int, *examples: str) -> Any:
    return Annotated[str, Field(min_length=low, max_length=high, examples=list(examples) or None)]


def number(low: int, high: int, *examples: int) -> Any:
    return Annotated[int, Field(ge=low, le=high, examples=list(examples) or None)]


# Every path placeholder the routes use, with its type.
PATH_PARAMS: dict[str, Param] = {
    "session": Param("session", text(1, 64, "1"), "The session's ref (`42`) or full id.", True),
    "seq": Param("seq", number(1, MAX_INT, 1), "The message's seq in its session.", True),
    "position": Param("position", number(1, 1000, 1), "The plan item's position (1-based).", True),
    "key": Param("key", text(1, 200, "branch"), "A context key.", True),
    "request": Param(
        "request",
        text(1, 64, "0b6f7c1e-8d2a-4c55-9e3f-2a7d1c9b4e60"),
        "The request's id.",
        True,
    ),
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation. `response` (a record of `bot.api.models`, or a JSON Schema for a free
    document) is None for 204; `body` is the request's record; `stream` routes write their own
    response."""

    method: str
    path: str
    name: str
    summary: str
    tag: str
    handler: Handler
    response: Any = None
    status: int = 200
    body: Any = None
    query: tuple[Param, ...] = ()
    public: bool = False
    stream: dict[str, Schema] = field(default_factory=dict)  # media type → schema

    @property
    def path_params(self) -> list[Param]:
        return [PATH_PARAMS[name] for name in _PLACEHOLDER.findall(self.path)]


__all__ = ["PATH_PARAMS", "Call", "Handler", "Param", "Route", "number", "text"]
