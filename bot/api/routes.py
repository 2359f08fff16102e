"""The route table of `/api/v1`: every operation, in the order the OpenAPI document lists them."""

from __future__ import annotations

from bot.api import (
    export,
    messages,
    openapi,
    plans,
    progress,
    requests,
    session_context,
    sessions,
)
from bot.api.route import Route

ROUTES: list[Route] = [
    Route(
        "GET",
        "/openapi.json",
        "getOpenApi",
        "This OpenAPI document",
        "meta",
        openapi.serve,
        {"type": "object", "description": "An OpenAPI 3.1 document."},
        public=True,
    ),
    *sessions.ROUTES,
    *progress.ROUTES,
    *messages.ROUTES,
    *session_context.ROUTES,
    *plans.ROUTES,
    *requests.ROUTES,
    *export.ROUTES,
]

__all__ = ["ROUTES"]
