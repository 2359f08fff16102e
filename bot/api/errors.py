"""Every API failure as JSON `{"error": {"code", "message"}}`: core's errors mapped in one place."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    SessionBotError,
    StoreError,
    UsageError,
)

_log = logging.getLogger(__name__)

# Core's hierarchy → HTTP status; the first matching class wins (subclasses before bases).
STATUS: tuple[tuple[type[SessionBotError], int], ...] = (
    (UsageError, 422),
    (NotFound, 404),
    (Forbidden, 403),
    (InvalidTransition, 409),
    (Conflict, 409),
    (LimitExceeded, 413),
    (StoreError, 503),
    (ConfigError, 500),
)
# aiohttp's own refusals (routing, body size) → our codes.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A refusal made by the HTTP layer itself (auth, parsing, limits)."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_json(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    detail: dict[str, Any] | None = None,
) -> web.Response:
    body = {"code": code, "message": message, **(detail or {})}
    return web.json_response({"error": body}, status=status, headers=headers)


def _detail(exc: SessionBotError) -> dict[str, Any] | None:
    """Machine-readable facts of an error: who settled what a late decision was about."""
    if isinstance(exc, Conflict) and (exc.decided_by or exc.decided_at):
        at = exc.decided_at.isoformat() if exc.decided_at else None
        return {"decided_by": exc.decided_by, "decided_at": at}
    return None


def api_wording(exc: SessionBotError) -> str:
    """Core's message as an API client needs it: no chat usage line, no slash command."""
    if isinstance(exc, Forbidden):
        text = f"This token's user can't {exc.action}: "
        if exc.detail and "/session" not in exc.detail:
            return text + exc.detail
        text += f"it needs the {' or '.join(exc.required)} role."
        if set(exc.required) & {"editor", "approver", "viewer"}:
            text += " The owner or an admin grants it: POST /sessions/{session}/members."
        return text
    if isinstance(exc, UsageError):
        return exc.reason  # the usage line and suggestions are chat commands
    return exc.message


def to_response(exc: BaseException) -> web.Response:
    """The JSON response for any exception a request raised (unknown ones logged, with a ref)."""
    if isinstance(exc, ApiError):
        return error_json(exc.status, exc.code, exc.message, headers=exc.headers)
    if isinstance(exc, SessionBotError):
        status = next((s for kind, s in STATUS if isinstance(exc, kind)), 500)
        if status >= 500:
            _log.error("API request failed: %s", exc.__class__.__name__)
        return error_json(status, exc.code, api_wording(exc), detail=_detail(exc))
    if isinstance(exc, web.HTTPException) and exc.status < 500:
        code = HTTP_CODES.get(exc.status, "bad_request")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_json(exc.status, code, exc.reason, headers=headers)
    ref = secrets.token_hex(3)
    _log.error("API request failed (ref %s)", ref, exc_info=exc)
    return error_json(500, "internal", f"Something went wrong (ref {ref}).")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into its JSON error response."""
    try:
        return await handler(request)
    except Exception as exc:
        return to_response(exc)


__all__ = ["ApiError", "api_wording", "error_json", "errors_middleware", "to_response"]
