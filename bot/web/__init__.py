"""The web inbox (issue 17): server-rendered pages under `/web` on the bot's HTTP server.

Off unless `SESSIONBOT_WEB=on` or `SESSIONBOT_PUBLIC_URL` is set. Sign-in by a one-time link
(`sessionbot web login`), a signed cookie session with a CSRF token, and the same services,
roles and compare-and-set as chat; see the README's "Web inbox".
"""

from __future__ import annotations

from aiohttp import web

from bot.config import Config
from bot.web import decide, discord_signin, live, pages, signin, slack_signin
from bot.web.context import HERE, WEB, WebContext, new_secret
from bot.web.discord_oauth import DiscordSignIn
from bot.web.guard import pages_middleware, session_middleware
from bot.web.oidc import DEFAULT_API, SlackSignIn
from core.services.web_signin import WebTimeouts
from core.wiring import Services

PREFIX = "/web"


def web_app(
    services: Services,
    *,
    base_url: str,
    secret: str | None = None,
    timeouts: WebTimeouts | None = None,
    slack: SlackSignIn | None = None,
    discord: DiscordSignIn | None = None,
) -> web.Application:
    """The web pages as their own aiohttp application (its middlewares touch only them)."""
    ctx = WebContext(services, base_url, new_secret(secret), timeouts or WebTimeouts())
    ctx.slack, ctx.discord = slack, discord
    app = web.Application(middlewares=[pages_middleware, session_middleware])
    app[WEB] = ctx
    r = app.router
    r.add_get("", pages.home)
    r.add_get("/", pages.home)
    r.add_post("/login", signin.login)
    r.add_get("/login/slack", slack_signin.start)
    r.add_get("/login/slack/callback", slack_signin.callback)
    r.add_get("/login/discord", discord_signin.start)
    r.add_get("/login/discord/callback", discord_signin.callback)
    r.add_post("/login/discord/choose", discord_signin.choose)
    r.add_get("/login/{token}", signin.login_form)
    r.add_post("/logout", signin.logout)
    r.add_get("/signed-out", signin.signed_out)
    r.add_get("/inbox", pages.inbox)
    r.add_get("/sessions", pages.sessions)
    r.add_get("/stats", pages.stats)
    r.add_get("/sessions/{id}", pages.session)
    r.add_get("/sessions/{id}/export.{fmt}", pages.export)
    r.add_post("/plans/{id}/decision", decide.plan)
    r.add_post("/requests/{id}/decision", decide.request_decision)
    r.add_post("/requests/{id}/answer", decide.answer)
    r.add_get("/live/inbox", live.inbox)
    r.add_get("/live/sessions/{id}", live.session)
    r.add_static("/static/", HERE / "static", append_version=True)
    services.store.on_wake(lambda keys: live.on_wake(ctx, keys))
    services.store.on_wake(ctx.stats.stale)

    async def end_streams(_: web.Application) -> None:
        """At shutdown every live page's stream ends now rather than at its next heartbeat."""
        ctx.closing = True
        ctx.changed.wake_all()
        services.progress.followers.wake_all()

    app.on_shutdown.append(end_streams)
    return app


def mount_web(
    app: web.Application,
    services: Services,
    *,
    on: bool,
    base_url: str,
    secret: str | None = None,
    timeouts: WebTimeouts | None = None,
    slack: SlackSignIn | None = None,
    discord: DiscordSignIn | None = None,
) -> web.Application | None:
    """Serve the web inbox under `/web` of `app` when it is on; None when off."""
    if not on:
        return None
    pages_app = web_app(
        services,
        base_url=base_url,
        secret=secret,
        timeouts=timeouts,
        slack=slack,
        discord=discord,
    )
    app.add_subapp(PREFIX, pages_app)
    return pages_app


def mount_configured(app: web.Application, services: Services, config: Config) -> None:
    """`sessionbot serve` and `run`: the web inbox as the configuration says."""
    w = config.web
    slack = None
    if w.slack_client_id and w.slack_client_secret:
        slack = SlackSignIn(
            w.slack_client_id, w.slack_client_secret, config.slack.api_url or DEFAULT_API
        )
    discord = None
    if w.discord_client_id and w.discord_client_secret:
        discord = DiscordSignIn.at(
            w.discord_client_id,
            w.discord_client_secret,
            config.discord.api_url,
            tuple(str(g) for g in config.discord.guild_ids),
        )
    mount_web(
        app,
        services,
        on=w.on,
        base_url=config.base_url,
        secret=w.secret,
        slack=slack,
        discord=discord,
    )


__all__ = ["PREFIX", "mount_configured", "mount_web", "web_app"]
