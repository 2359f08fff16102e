"""The `state` of a platform's sign-in (Slack, Discord), kept in this browser.

A sign-in starts with a random `state` (and whatever else the callback must check, such as an
OpenID nonce) in a signed, short-lived, HttpOnly cookie; the platform sends the browser back
with that `state`. Only the browser that started may finish (else 403), within STATE_TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.web.context import WEB, WebContext
from core.errors import Forbidden
from core.services.web_signin import same_token

STATE_TTL = timedelta(minutes=10)


def remember(ctx: WebContext, response: web.StreamResponse, cookie: str, *values: str) -> None:
    """Keep `values` (the state first) with the time now in the signed cookie `cookie`."""
    issued = str(int(ctx.services.clock.now().timestamp()))
    ttl = int(STATE_TTL.total_seconds())
    ctx.set_cookie(response, cookie, ctx.sign("~".join([*values, issued])), ttl)


def fresh(ctx: WebContext, issued: str, refused: Callable[[str], Forbidden]) -> None:
    """Refuse a sign-in started more than STATE_TTL ago (by the injected clock)."""
    started = datetime.fromtimestamp(int(issued), tz=UTC)
    if ctx.services.clock.now() - started > STATE_TTL:
        raise refused("this sign-in took too long; start it again.")


def recall(
    request: web.Request, cookie: str, count: int, refused: Callable[[str], Forbidden]
) -> list[str]:
    """The `count` values kept after the state, when the callback's `state` is the one this
    browser keeps and it is fresh; else `refused(…)` is raised."""
    ctx = request.app[WEB]
    kept = ctx.unsign(request.cookies.get(cookie, ""))
    values = kept.split("~") if kept else []
    given = request.query.get("state", "")
    if len(values) != count + 2 or not same_token(given, values[0]):
        raise refused("this sign-in was not started in this browser; start it again.")
    fresh(ctx, values[-1], refused)
    return values[1:-1]
