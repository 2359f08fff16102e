"""Reading a request body: size limit, content type, strict JSON (no NaN, no lone surrogates)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot.api.errors import ApiError
from core import jsonlimits

_log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "application/merge-patch+json")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 beyond `limit` bytes (checked while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ConnectionResetError:  # the client went away mid-body: its failure, not ours
        _log.info("API request body cut off by the client after %d bytes", size)
        raise ApiError(400, "bad_request", "The request body was cut off.") from None
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The request body is over {limit:,} bytes.")


def parse_json(request: web.Request, raw: bytes) -> Any:
    """The body as JSON; an empty body is `{}`. Anything malformed is a 4xx, never a 500."""
    if not raw.strip():
        return {}
    if request.content_type not in JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as application/json (got {request.content_type[:60] or 'none'}).",
        )
    try:
        text = raw.decode("utf-8")
        value = jsonlimits.parse(
            text, "it", parse_float=jsonlimits.finite, parse_constant=jsonlimits.refuse_constant
        )
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # lone surrogates fail here
    except jsonlimits.TooDeep as exc:
        message = f"Can't read the request body: {exc.reason}"
        raise ApiError(400, "malformed_json", message) from None
    except ValueError as exc:
        problem = "it is not UTF-8" if isinstance(exc, UnicodeError) else "it is not valid JSON"
        raise ApiError(400, "malformed_json", f"Can't read the request body: {problem}.") from None
    if jsonlimits.holds_nul(value):
        raise ApiError(422, "invalid_body", "Text in the body can't contain NUL characters.")
    return value


__all__ = ["parse_json", "read_body"]
