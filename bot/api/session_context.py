"""Context routes: read, deep-merge (`null` deletes) and delete one key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.api import models as m
from bot.api.route import Call, Route
from core.history import context
from core.history.context import ContextView

_P = "/sessions/{session}/context"
_TAG = "context"


def _view(view: ContextView) -> dict[str, Any]:
    return {
        "context": view.context,
        "expires": {key: when.isoformat() for key, when in view.expires.items()},
    }


async def get(call: Call) -> Any:
    return _view(await context.read(call.api.history, call.actor, call.path["session"]))


async def merge(call: Call) -> Any:
    ttl = call.body.get("ttl_seconds")
    view = await context.update(
        call.api.history,
        call.actor,
        call.path["session"],
        call.body["merge"],
        ttl=timedelta(seconds=ttl) if ttl is not None else None,
    )
    return _view(view)


async def delete_key(call: Call) -> Any:
    view = await context.update(
        call.api.history, call.actor, call.path["session"], {call.path["key"]: None}
    )
    return _view(view)


ROUTES = [
    Route("GET", _P, "getContext", "The session's context", _TAG, get, m.ContextView),
    Route(
        "PATCH",
        _P,
        "mergeContext",
        "Deep-merge into the context",
        _TAG,
        merge,
        m.ContextView,
        body=m.MergeContext,
    ),
    Route(
        "DELETE",
        _P + "/{key}",
        "deleteContextKey",
        "Delete one top-level key",
        _TAG,
        delete_key,
        m.ContextView,
    ),
]
