"""Sign in with Discord (OAuth2, scopes `identify` and `guilds`) for the members of Discord
servers.

`GET /web/login/discord` sends the browser to Discord's consent page with a random `state`,
kept in a signed, short-lived, HttpOnly cookie of this browser (bot/web/oauth_state.py).
Discord sends it back to `/web/login/discord/callback` with a one-time code: the state must be
this browser's and fresh, and the code is traded once, server to server, at Discord's token
endpoint; `users/@me` and `users/@me/guilds` then name the person and their guilds. They sign
in to `discord:<guild>` for a guild they share with the bot (DISCORD_GUILD_IDS when set, else
the guilds the store knows): with one, at once; with several, they pick one on a small page
whose form carries a nonce kept with their identity in another signed cookie; with none, the
sign-in is refused. The URLs come from configuration (DISCORD_API_URL), never from the request.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from aiohttp import web

from bot.web.context import WEB, WebContext
from bot.web.discord_oauth import SCOPES, SNOWFLAKE, DiscordSignIn, refused
from bot.web.oauth_state import fresh, recall, remember
from core.services.web_signin import same_token

CALLBACK = "/web/login/discord/callback"


def _cookie(request: web.Request, what: str) -> str:
    return f"{request.app[WEB].pre_cookie}-discord-{what}"


def _configured(ctx: WebContext) -> DiscordSignIn:
    if ctx.discord is None:
        raise web.HTTPNotFound(reason="Sign in with Discord is not configured.")
    return ctx.discord


async def start(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    discord = _configured(ctx)
    state = secrets.token_urlsafe(24)
    query = urlencode({"response_type": "code", "client_id": discord.client_id,
                       "scope": SCOPES, "state": state, "prompt": "none",
                       "redirect_uri": ctx.base_url + CALLBACK})  # fmt: skip
    response = web.Response(status=302, headers={"Location": f"{discord.authorize_url}?{query}"})
    remember(ctx, response, _cookie(request, "state"), state)
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    discord = _configured(ctx)
    recall(request, _cookie(request, "state"), 0, refused)
    code = request.query.get("code", "")
    if not code or len(code) > 500:
        raise refused("Discord sent no sign-in code (was it cancelled?).")
    user, guilds = await discord.identify(code, ctx.base_url + CALLBACK)
    ours = set(discord.guild_ids) or await ctx.signin.tenants("discord")
    shared = sorted(set(guilds) & ours)
    if not shared:
        raise refused("you are in no Discord server this bot serves.")
    if len(shared) == 1:
        response = await _open(ctx, shared[0], user)
    else:
        nonce = secrets.token_urlsafe(24)
        choices = [(g, guilds[g]) for g in shared]
        response = ctx.render("discord_choose.html", choices=choices, nonce=nonce)
        remember(ctx, response, _cookie(request, "choice"), nonce, user, ",".join(shared))
    response.del_cookie(_cookie(request, "state"), path="/")
    return response


async def choose(request: web.Request) -> web.StreamResponse:
    """The server picked on the chooser page: one of those this browser's identity shares."""
    ctx = request.app[WEB]
    _configured(ctx)
    form = await request.post()
    kept = ctx.unsign(request.cookies.get(_cookie(request, "choice"), ""))
    nonce, user, shared, issued = (kept or "~~~0").split("~")
    given, guild = form.get("nonce"), form.get("guild")
    if not kept or not isinstance(given, str) or not same_token(given, nonce):
        raise refused("this choice was not offered in this browser; sign in again.")
    fresh(ctx, issued, refused)
    if (
        not isinstance(guild, str)
        or not SNOWFLAKE.fullmatch(guild)
        or guild not in shared.split(",")
    ):
        raise refused("pick one of the servers offered.")
    response = await _open(ctx, guild, user)
    response.del_cookie(_cookie(request, "choice"), path="/")
    return response


async def _open(ctx: WebContext, guild: str, user: str) -> web.Response:
    _, session_id = await ctx.signin.open(f"discord:{guild}", user)
    return ctx.signed_in(session_id)
