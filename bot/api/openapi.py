"""The OpenAPI 3.1 document, written from the route table (so it cannot drift from the routes)."""

from __future__ import annotations

import re
from typing import Any

from bot.api import models
from bot.api.route import Call, Route
from bot.api.schemas import Schema, components, ref

PREFIX = "/api/v1"
API_VERSION = "1"  # `info.version`, the `X-Sessionbot-Api` header, the `v1` of PREFIX
VERSION_HEADER = "X-Sessionbot-Api"
ERRORS = {
    "400": "Malformed request: bad JSON (or nested over 64 deep), a bad query or path "
    "parameter, a search query that can't be read.",
    "401": "Missing, wrong, unknown or revoked API token.",
    "403": "The token's principal lacks the role this needs.",
    "404": "No such session, plan, message, request or route in the token's workspace.",
    "409": "The session's status does not allow it, or someone changed or decided it first "
    "(a settled request's or plan's error names `decided_by` and `decided_at`).",
    "413": "The body or a value in it is over a size limit.",
    "415": "The body is not application/json.",
    "422": "The body does not fit the schema (the message names the field), or a value is "
    "unusable.",
    "429": "Too many requests with this token, or too many failed authentications from this "
    "address (see Retry-After).",
}
_PATH_RE = re.compile(r"\{(\w+)\}")


def _parameters(route: Route) -> list[dict[str, Any]]:
    found = [
        {
            "name": p.name,
            "in": "path",
            "required": True,
            "description": p.description,
            "schema": p.schema,
        }
        for p in route.path_params
    ]
    found += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": p.schema,
        }
        for p in route.query
    ]
    return found


def _success(route: Route) -> dict[str, Any]:
    if route.stream:
        content = {media: {"schema": schema} for media, schema in route.stream.items()}
        return {"description": "The document, streamed.", "content": content}
    if route.response is None:
        return {"description": "Done; no body."}
    shown = ref(route.response) if isinstance(route.response, type) else route.response
    json_body = {"application/json": {"schema": shown}}
    return {"description": "Success.", "content": json_body}


def operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": {
            str(route.status): _success(route),
            **{code: {"$ref": f"#/components/responses/E{code}"} for code in ERRORS},
        },
    }
    parameters = _parameters(route)
    if route.method == "POST" and not route.public:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Retries with the same key return the first result and act once.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[\\x21-\\x7e]+$",
                },
            }
        )
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        op["requestBody"] = {
            "required": bool(route.body.__required_keys__),
            "content": {"application/json": {"schema": ref(route.body)}},
        }
    if route.public:
        op["security"] = []
    return op


def document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    error: Schema = ref(models.Error)
    records: list[Any] = [models.Error]
    for route in routes:
        records += [r for r in (route.body, route.response) if isinstance(r, type)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sessionbot API",
            "version": API_VERSION,
            "description": "Drive sessionbot sessions from agents and scripts. Every call acts "
            "as the API token's principal in the token's workspace, under the same rules as "
            "the chat commands.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components(records),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                f"E{code}": {
                    "description": text,
                    "content": {"application/json": {"schema": error}},
                }
                for code, text in ERRORS.items()
            },
        },
    }


async def serve(call: Call) -> Any:
    return call.api.openapi


__all__ = ["API_VERSION", "PREFIX", "VERSION_HEADER", "document", "operation", "serve"]
