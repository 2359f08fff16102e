"""Bearer-token authentication and per-token rate limiting, as an aiohttp middleware."""

from __future__ import annotations

import ipaddress
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

    Failed authentications are counted per client (`client_key`): a credit is taken before
    the token is looked up and given back when it is good, so requests sent at once can't
    all be checked before any is counted — at most the burst is ever in flight (`AuthGate`).
    A request finding the credits held only by lookups still in flight waits for them instead
    of being refused, so many agents behind one address starting at once are not mistaken
    for guessing. Past the limit of failures the client gets 429 before its token is even
    looked at."""
    endpoint = getattr(request.match_info.handler, "__self__", None)
    if not isinstance(endpoint, Endpoint) or endpoint.route.public:
        return await handler(request)  # public, or routing's own 404/405
    api = request.app[API]
    address = request.remote or "unknown"
    client = client_key(address)
    held = await api.auth_gate.admit(client)
    if held is not None:
        raise _slow_down("Too many failed authentications from this address; wait.", held)
    good = False
    try:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise _refused("Send an API token: `Authorization: Bearer sbt_…`.")
        token = await api.tokens.authenticate(presented.strip())  # an error keeps the credit
        if token is None:
            _log.info("API authentication failed from %s", address)
            raise _refused("The API token is wrong, unknown or revoked.")
        good = True
    finally:
        api.auth_gate.release(client, good=good)  # a good token costs the client nothing
    wait = api.limiter.take(token.id)
    if wait is not None:
        raise _slow_down("Too many requests with this token; slow down.", wait)
    request[TOKEN] = token
    return await handler(request)


def client_key(address: str) -> str:
    """The failed-authentication bucket of a client address: an IPv4 address itself, an IPv6
    address's /64 network (one host usually holds a whole /64), anything else as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _slow_down(message: str, wait: float) -> ApiError:
    return ApiError(
        429, "rate_limited", message, headers={"Retry-After": str(max(1, math.ceil(wait)))}
    )


__all__ = ["auth_middleware", "client_key"]
