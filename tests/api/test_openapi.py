"""The OpenAPI document and the served routes match, both ways, and the document is sound."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from bot.api import PREFIX
from bot.api.openapi import API_VERSION, VERSION_HEADER, document
from bot.api.routes import ROUTES
from bot.api.schemas import adapter, check, parameter
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


def test_every_body_and_parameter_is_documented_from_its_record(api_document: Any) -> None:
    schemas = api_document["components"]["schemas"]
    for route in ROUTES:
        if route.body is not None:
            body = api_document["paths"][route.path][route.method.lower()]["requestBody"]
            shown = body["content"]["application/json"]["schema"]
            assert shown == {"$ref": f"#/components/schemas/{route.body.__name__}"}
            assert schemas[route.body.__name__]["additionalProperties"] is False
        for param in (*route.path_params, *route.query):
            assert param.schema == adapter(param.kind).json_schema()


def test_every_example_round_trips_through_its_record(api_document: Any) -> None:
    schemas = api_document["components"]["schemas"]
    seen = 0
    for route in ROUTES:
        if route.body is not None:
            examples = schemas[route.body.__name__].get("examples", [])
            assert examples, f"{route.name}: its body record has no example"
            for example in examples:
                assert check(route.body, example) == example
                seen += 1
        for param in (*route.path_params, *route.query):
            for example in param.schema.get("examples", []):
                assert parameter(str(example), param.kind, param.name) == example
                seen += 1
    assert seen >= len([r for r in ROUTES if r.body is not None])


@pytest.fixture
def api_document() -> Any:
    return document(ROUTES)


def test_the_request_routes_are_documented_from_the_table(api_document: Any) -> None:
    paths, schemas = api_document["paths"], api_document["components"]["schemas"]
    create = paths["/sessions/{session}/requests"]["post"]
    assert create["operationId"] == "createRequest" and "201" in create["responses"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateRequest"
    }
    listed = {p["name"]: p for p in paths["/sessions/{session}/requests"]["get"]["parameters"]}
    assert "pending" in listed["status"]["schema"]["enum"]
    shown = {p["name"]: p for p in paths["/requests/{request}"]["get"]["parameters"]}
    assert (shown["wait"]["schema"]["minimum"], shown["wait"]["schema"]["maximum"]) == (0, 60)
    assert not shown["wait"]["required"] and shown["request"]["in"] == "path"
    decide = paths["/requests/{request}/decision"]["post"]
    assert {p["name"] for p in decide["parameters"]} == {"request", "Idempotency-Key"}
    assert schemas["DecideRequest"]["properties"]["decision"]["enum"] == [
        "approve",
        "reject",
        "answer",
    ]
    record = schemas["AgentRequest"]
    assert {"args", "edited_args", "args_to_run", "digest", "votes"} <= set(record["required"])
    assert {"decided_by", "decided_at"} <= set(schemas["ErrorDetail"]["properties"])


async def test_every_answer_names_the_api_version_it_speaks(api: ApiClient, token: str) -> None:
    """Clients check `X-Sessionbot-Api` (also `info.version`) to fail clearly on a mismatch."""
    doc = await api.get("/openapi.json")
    listed = await api.get("/sessions", token)
    refused = await api.get("/sessions")  # an error answer (401) too
    missing = await api.get("/sessions/999", token)
    assert (doc.status, listed.status, refused.status, missing.status) == (200, 200, 401, 404)
    for reply in (doc, listed, refused, missing):
        assert reply.headers[VERSION_HEADER] == API_VERSION == doc.body["info"]["version"] == "1"
