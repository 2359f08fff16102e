"""Bearer-token authentication and per-token rate limiting, as an aiohttp middleware."""

from __future__ import annotations

import math

from aiohttp import web

from bot.api.endpoint import Endpoint
from bot.api.errors import ApiError, Handler
from bot.api.runtime import API, TOKEN

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sessionbot"'}


def _refused(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the public ones needs `Authorization: Bearer <token>` of an active token."""
    endpoint = getattr(request.match_info.handler, "__self__", None)
    if not isinstance(endpoint, Endpoint) or endpoint.route.public:
        return await handler(request)  # public, or routing's own 404/405
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise _refused("Send an API token: `Authorization: Bearer sbt_…`.")
    api = request.app[API]
    token = await api.tokens.authenticate(presented.strip())
    if token is None:
        raise _refused("The API token is wrong, unknown or revoked.")
    wait = api.limiter.take(token.id)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests with this token; slow down.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    request[TOKEN] = token
    return await handler(request)


__all__ = ["auth_middleware"]
