"""Bearer-token authentication and per-token rate limiting, as an aiohttp middleware."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from bot.api.endpoint import Endpoint
from bot.api.errors import ApiError, Handler
from bot.api.runtime import API, TOKEN

_log = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sessionbot"'}


def _refused(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the public ones needs `Authorization: Bearer <token>` of an active token.

    Failed authentications are counted per client address; past the limit the address gets
    429 before its token is even looked at, so tokens can't be guessed at speed."""
    endpoint = getattr(request.match_info.handler, "__self__", None)
    if not isinstance(endpoint, Endpoint) or endpoint.route.public:
        return await handler(request)  # public, or routing's own 404/405
    api = request.app[API]
    address = request.remote or "unknown"
    held = api.failures.wait(address)
    if held is not None:
        raise _slow_down("Too many failed authentications from this address; wait.", held)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        api.failures.take(address)
        raise _refused("Send an API token: `Authorization: Bearer sbt_…`.")
    token = await api.tokens.authenticate(presented.strip())
    if token is None:
        api.failures.take(address)
        _log.info("API authentication failed from %s", address)
        raise _refused("The API token is wrong, unknown or revoked.")
    wait = api.limiter.take(token.id)
    if wait is not None:
        raise _slow_down("Too many requests with this token; slow down.", wait)
    request[TOKEN] = token
    return await handler(request)


def _slow_down(message: str, wait: float) -> ApiError:
    return ApiError(
        429, "rate_limited", message, headers={"Retry-After": str(max(1, math.ceil(wait)))}
    )


__all__ = ["auth_middleware"]
