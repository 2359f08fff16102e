"""The web's middlewares: errors as pages, security headers, the signed session cookie, and
the CSRF token every POST must carry."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.errors import STATUS
from bot.web.context import ME, WEB
from core.errors import SessionBotError
from core.services.web_signin import same_token

_log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = ("/login", "/static/", "/signed-out")  # paths of `/web` open without a session
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors from core as a page with their status; every answer with the security headers."""
    ctx = request.app[WEB]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = ctx.render(
            "error.html", status=exc.status, session=request.get(ME), message=exc.reason
        )
    except SessionBotError as exc:  # core's hierarchy → the API's statuses, as a page
        status = next((s for kind, s in STATUS if isinstance(exc, kind)), 500)
        response = ctx.render(
            "error.html", status=status, session=request.get(ME), message=exc.message
        )
    if not response.prepared:  # a stream has sent its headers already
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # a login link never leaks
        response.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith("/web/static/"):
            response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page needs a live browser session (else 401 with how to sign in); a POST needs that
    session's CSRF token in its form (else 403, before anything is read or changed)."""
    ctx = request.app[WEB]
    path = request.path.removeprefix("/web")
    if path.startswith(PUBLIC):
        return await handler(request)
    signed = request.cookies.get(ctx.cookie, "")
    session_id = ctx.unsign(signed) if signed else None
    session = await ctx.signin.current(session_id) if session_id else None
    if session is None:
        return ctx.render(
            "signin.html", status=401, slack=ctx.slack is not None, discord=ctx.discord is not None
        )
    request[ME] = session
    if request.method == "POST":
        form = await request.post()
        given = form.get("csrf")
        if not isinstance(given, str) or not same_token(given, session.csrf):
            _log.info("web POST refused: no valid CSRF token (%s)", request.path)
            raise web.HTTPForbidden(reason="This form is out of date or was not sent by this site.")
    return await handler(request)


__all__ = ["pages_middleware", "session_middleware"]
