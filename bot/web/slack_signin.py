"""Sign in with Slack (OpenID Connect) for the people of Slack workspaces.

`GET /web/login/slack` sends the browser to Slack's consent page with a random `state` and
`nonce`, kept in a signed, short-lived, HttpOnly cookie of this browser. Slack sends it back to
`/web/login/slack/callback` with a one-time code: the state must be this browser's (else 403),
not older than STATE_TTL (bot/web/oauth_state.py), and the code is traded once, server to server, at
`openid.connect.token` (the id token's nonce must be ours); `openid.connect.userInfo` then
names the team and the user, who is signed in to `slack:<team>` with the same roles as in chat.
The URLs come from configuration (SLACK_API_URL), never from the request.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from aiohttp import web

from bot.web.context import WEB
from bot.web.oauth_state import recall, remember
from bot.web.oidc import refused

CALLBACK = "/web/login/slack/callback"


def _cookie(request: web.Request) -> str:
    return f"{request.app[WEB].pre_cookie}-slack"


async def start(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    if ctx.slack is None:
        raise web.HTTPNotFound(reason="Sign in with Slack is not configured.")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    query = urlencode({"response_type": "code", "scope": "openid profile",
                       "client_id": ctx.slack.client_id, "state": state, "nonce": nonce,
                       "redirect_uri": ctx.base_url + CALLBACK})  # fmt: skip
    response = web.Response(status=302, headers={"Location": f"{ctx.slack.authorize_url}?{query}"})
    remember(ctx, response, _cookie(request), state, nonce)
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    if ctx.slack is None:
        raise web.HTTPNotFound(reason="Sign in with Slack is not configured.")
    (nonce,) = recall(request, _cookie(request), 1, refused)
    code = request.query.get("code", "")
    if not code or len(code) > 500:
        raise refused("Slack sent no sign-in code (was it cancelled?).")
    team, user = await ctx.slack.identify(code, ctx.base_url + CALLBACK, nonce)
    _, session_id = await ctx.signin.open(f"slack:{team}", user)
    response = ctx.signed_in(session_id)
    response.del_cookie(_cookie(request), path="/")
    return response
