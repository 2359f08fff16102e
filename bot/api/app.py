"""Builds the `/api/v1` sub-application from the route table and mounts it on the bot's server."""

from __future__ import annotations

from aiohttp import web

from bot.api.auth import auth_middleware
from bot.api.endpoint import Endpoint
from bot.api.errors import errors_middleware
from bot.api.openapi import API_VERSION, PREFIX, VERSION_HEADER, document
from bot.api.route import Route
from bot.api.routes import ROUTES
from bot.api.runtime import API, ApiConfig, ApiContext
from core.tokens import TokenService
from core.wiring import Services


def api_app(
    services: Services, *, config: ApiConfig | None = None, routes: list[Route] = ROUTES
) -> web.Application:
    """The API as its own aiohttp application (its middlewares touch only its routes)."""
    context = ApiContext(
        services=services,
        history=services.history,
        tokens=TokenService(services.store.tokens, clock=services.clock),
        config=config or ApiConfig(),
        openapi=document(routes),
    )
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[API] = context
    for route in routes:
        app.router.add_route(route.method, route.path, Endpoint(route).handle)

    async def end_streams(_: web.Application) -> None:
        """At shutdown every event stream ends now rather than at its next heartbeat."""
        context.streams.closing = True
        services.progress.followers.wake_all()

    async def state_version(_: web.Request, response: web.StreamResponse) -> None:
        """Every answer of the API, streams and errors too, names the API version it speaks,
        so a client fails clearly against a server it does not understand."""
        response.headers[VERSION_HEADER] = API_VERSION

    app.on_shutdown.append(end_streams)
    app.on_response_prepare.append(state_version)
    return app


def mount_api(
    app: web.Application, services: Services, *, config: ApiConfig | None = None
) -> web.Application:
    """Serve the API under `/api/v1` of `app` (the bot's one HTTP server)."""
    api = api_app(services, config=config)
    app.add_subapp(PREFIX, api)
    return api


__all__ = ["api_app", "mount_api"]
