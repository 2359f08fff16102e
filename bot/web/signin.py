"""Signing in with a one-time link, and signing out.

`GET /web/login/<token>` only shows a button (a link preview or a scanner fetching the URL
uses nothing); its POST takes the link. That form carries a random value also set as a
short-lived cookie, so a page elsewhere can't sign a browser in as someone else (login CSRF).
"""

from __future__ import annotations

import secrets

from aiohttp import web

from bot.web.context import ME, WEB, see_other
from core.services.web_signin import same_token

PRE_LOGIN_SECONDS = 600


async def login_form(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    nonce = secrets.token_urlsafe(24)
    response = ctx.render("login.html", token=request.match_info["token"], nonce=nonce)
    ctx.set_cookie(response, ctx.pre_cookie, nonce, PRE_LOGIN_SECONDS)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    nonce, token = form.get("nonce"), form.get("token")
    if not isinstance(nonce, str) or not same_token(nonce, request.cookies.get(ctx.pre_cookie, "")):
        raise web.HTTPForbidden(reason="Open the sign-in link again, in this browser.")
    _, session_id = await ctx.signin.take(token if isinstance(token, str) else "")
    response = ctx.signed_in(session_id)
    response.del_cookie(ctx.pre_cookie, path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    await ctx.signin.end(request[ME])
    response = see_other("/web/signed-out")
    response.del_cookie(ctx.cookie, path="/")
    return response


async def signed_out(request: web.Request) -> web.StreamResponse:
    return request.app[WEB].render("signed_out.html")
