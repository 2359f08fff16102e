"""Every failure the client raises, under one base class; the API's JSON errors by status."""

from __future__ import annotations

from typing import Any


class SessionbotError(Exception):
    """The base of every error this package raises."""


class ConfigurationError(SessionbotError):
    """No server URL or token, or an unusable one."""


class IncompatibleServer(SessionbotError):
    """The server does not speak an API version this client knows."""


class Unreachable(SessionbotError):
    """No answer from the server after retrying with backoff for the whole retry budget."""


class ApiError(SessionbotError):
    """The API refused the call: `status`, the stable `code` and the `message` it sent."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any]) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


class BadRequest(ApiError):
    """400: malformed JSON, a bad path or query parameter."""


class Unauthorized(ApiError):
    """401: missing, wrong or revoked token."""


class Forbidden(ApiError):
    """403: the token's user lacks the role this needs."""


class NotFound(ApiError):
    """404: no such session, request, message… in the token's workspace."""


class Conflict(ApiError):
    """409: the session's status does not allow it, or someone decided first (`decided_by`)."""

    @property
    def decided_by(self) -> str | None:
        value = self.detail.get("decided_by")
        return str(value) if value is not None else None


class TooLarge(ApiError):
    """413: the body or a value in it is over a size limit."""


class InvalidRequest(ApiError):
    """422: the body does not fit the schema, or a rule refused it (the message says which)."""


class RateLimited(ApiError):
    """429: too many calls with this token (retried after `Retry-After` within the budget)."""


class ServerError(ApiError):
    """5xx: the server failed (a 502/503/504 is retried first)."""


class RequestSettled(SessionbotError):
    """A request was decided in a way that the call waiting for it does not return."""

    def __init__(self, message: str, request: dict[str, Any]) -> None:
        super().__init__(message)
        self.request = request

    @property
    def request_id(self) -> str:
        return str(self.request["id"])


class Rejected(RequestSettled):
    """A person rejected the request: `reason` (may be None) and who (`by`)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.reason: str | None = request.get("reason")
        self.by: str | None = request.get("decided_by")
        why = f": {self.reason}" if self.reason else ""
        super().__init__(f"Rejected by {self.by}{why}", request)


class Expired(RequestSettled):
    """Nobody decided the request before it expired."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__(f"Request {request['id']} expired before anyone decided it", request)


class StillPending(RequestSettled):
    """The caller's own `timeout` ran out; the request is still pending on the server (wait
    again with `wait_for`, by its `request_id`)."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__(f"Request {request['id']} is still pending", request)


BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: InvalidRequest,
    429: RateLimited,
}


def api_error(status: int, body: Any) -> ApiError:
    """The typed error of an error answer (`{"error": {"code", "message", …}}`)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "http_error", "message": f"HTTP {status} without an API error body"}
    detail = {k: v for k, v in error.items() if k not in ("code", "message")}
    kind = BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return kind(status, str(error.get("code", "")), str(error.get("message", "")), detail)


__all__ = [
    "ApiError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Expired",
    "Forbidden",
    "IncompatibleServer",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Rejected",
    "RequestSettled",
    "ServerError",
    "SessionbotError",
    "StillPending",
    "TooLarge",
    "Unauthorized",
    "Unreachable",
    "api_error",
]
