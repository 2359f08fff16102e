"""The OpenAPI document and the served routes match, both ways, and the document is sound."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api import PREFIX
from bot.api.routes import ROUTES
from bot.api.validation import SUPPORTED
from bot.http import HttpServer
from tests.api.conftest import ApiClient

METHODS = {"get", "post", "patch", "delete", "put"}


def _served(server: HttpServer) -> set[tuple[str, str]]:
    """(method, full path) of every route the running server answers under the API prefix."""
    found: set[tuple[str, str]] = set()
    for resource in server.app.router.resources():
        sub: web.Application | None = getattr(resource, "_app", None)
        if sub is None:
            continue
        for route in sub.router.routes():
            if route.method != "HEAD":
                found.add((route.method, route.resource.canonical if route.resource else ""))
    return found


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    base = doc["servers"][0]["url"]
    return {
        (method.upper(), base + path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_every_route_is_documented_and_every_documented_route_exists(
    api: ApiClient, server: HttpServer
) -> None:
    reply = await api.get("/openapi.json")  # public: no token needed
    assert reply.status == 200
    served, documented = _served(server), _documented(reply.body)
    assert len(served) == len(ROUTES) >= 30
    assert served == documented
    assert all(path.startswith(PREFIX + "/") for _, path in served)


async def test_the_document_is_openapi_3_1_with_a_schema_for_every_operation(
    api: ApiClient,
) -> None:
    doc = (await api.get("/openapi.json")).body
    assert doc["openapi"] == "3.1.0"
    operation_ids = []
    for path, item in doc["paths"].items():
        placeholders = {p.strip("{}") for p in path.split("/") if p.startswith("{")}
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == placeholders, (method, path)
            success = [code for code in op["responses"] if code.startswith("2")]
            assert len(success) == 1, (method, path)
            if method in ("post", "patch"):
                assert "requestBody" in op, (method, path)
            for code in ("401", "404", "422"):
                assert code in op["responses"] or op.get("security") == []
    assert len(operation_ids) == len(set(operation_ids))
    _all_refs_resolve(doc, doc)


def _all_refs_resolve(node: Any, doc: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            *_, section, name = node["$ref"].split("/")
            assert name in doc["components"][section], node["$ref"]
        for value in node.values():
            _all_refs_resolve(value, doc)
    elif isinstance(node, list):
        for value in node:
            _all_refs_resolve(value, doc)


def test_request_schemas_use_only_what_the_validator_enforces() -> None:
    def walk(schema: Any, where: str) -> None:
        if isinstance(schema, dict) and ("type" in schema or "properties" in schema):
            assert set(schema) <= SUPPORTED, (where, set(schema) - SUPPORTED)
            for name, sub in schema.get("properties", {}).items():
                walk(sub, f"{where}.{name}")
            walk(schema.get("items"), f"{where}[]")

    for route in ROUTES:
        walk(route.body, f"{route.name} body")
        for param in (*route.path_params, *route.query):
            walk(param.schema, f"{route.name} {param.name}")
