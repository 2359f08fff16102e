"""One route's request pipeline: body → idempotency → parse and validate → handler → JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api import idempotency
from bot.api.body import parse_json, read_body
from bot.api.errors import ApiError
from bot.api.route import Call, Param, Route
from bot.api.runtime import API, TOKEN, ApiContext
from bot.api.schemas import Invalid, check, parameter, serialise
from core.models import Actor, Source

ANONYMOUS = Actor("", "anonymous", Source.API)  # the caller of a public route


class Endpoint:
    """Serves one `Route`; `handle` is its aiohttp handler (the auth middleware finds the
    endpoint, and so the route, through that bound method)."""

    def __init__(self, route: Route) -> None:
        self.route = route

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = request.app[API]
        raw = b""
        if self.route.body is not None:
            raw = await read_body(request, api.config.max_body)
        token = request.get(TOKEN)
        if request.method == "POST" and idempotency.HEADER in request.headers and token:
            return await idempotency.idempotent(
                request,
                raw,
                ledger=api.services.store.idempotency,
                clock=api.services.clock,
                token_id=token.id,
                run=lambda: self._run(api, request, raw),
            )
        return await self._run(api, request, raw)

    async def _run(self, api: ApiContext, request: web.Request, raw: bytes) -> web.StreamResponse:
        call = self._call(api, request, raw)
        result = await self.route.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        if self.route.status == 204:
            return web.Response(status=204)
        if isinstance(self.route.response, type):  # a record: serialised through it
            result = serialise(self.route.response, result)
        return web.json_response(result, status=self.route.status)

    def _call(self, api: ApiContext, request: web.Request, raw: bytes) -> Call:
        route = self.route
        token = request.get(TOKEN)
        if token is not None:
            actor = token.actor()
        elif route.public:
            actor = ANONYMOUS
        else:
            raise ApiError(401, "unauthorized", "This route needs an API token.")
        body: dict[str, Any] = {}
        if route.body is not None:
            value = parse_json(request, raw)
            try:
                body = check(route.body, value)
            except Invalid as exc:
                raise ApiError(422, "invalid_body", str(exc)) from None
        path = _params(route.path_params, dict(request.match_info), "path")
        query = _query(route.query, request)
        return Call(api, actor, path, query, body, request)


def _params(
    params: list[Param] | tuple[Param, ...], given: dict[str, str], where: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for p in params:
        if p.name not in given:
            if p.required:
                raise ApiError(400, "invalid_parameter", f"{where}.{p.name}: required")
            continue
        text = given[p.name]
        try:
            text.encode("utf-8")
            found[p.name] = parameter(text, p.kind, f"{where}.{p.name}")
        except (Invalid, UnicodeError) as exc:
            message = str(exc) if isinstance(exc, Invalid) else f"{where}.{p.name}: not UTF-8"
            raise ApiError(400, "invalid_parameter", message) from None
    return found


def _query(params: tuple[Param, ...], request: web.Request) -> dict[str, Any]:
    known = {p.name for p in params}
    for name in request.query:
        if name not in known:
            raise ApiError(400, "invalid_parameter", f"query.{name[:60]}: unknown parameter")
        if len(request.query.getall(name)) > 1:
            raise ApiError(400, "invalid_parameter", f"query.{name}: given more than once")
    return _params(params, dict(request.query), "query")


__all__ = ["Endpoint"]
