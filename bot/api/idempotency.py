"""`Idempotency-Key` on POST: the key goes into the inbound dedupe ledger and the first
response is kept, so a retried request returns that response and acts once.

A key is scoped to the token that sent it. Reusing a key for a different request (another
path or body) is refused with 422; a retry that arrives while the first request is still
running gets 409. A request that failed unexpectedly (5xx) releases its key, so it may be
retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.errors import ApiError, to_response
from core.clock import Clock
from core.records.idempotency import IN_PROGRESS_LEASE, IdempotencyStore

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def fingerprint(request: web.Request, raw: bytes) -> str:
    head = f"{request.method} {request.rel_url.path_qs}\n".encode()
    return hashlib.sha256(head + raw).hexdigest()


async def idempotent(
    request: web.Request,
    raw: bytes,
    *,
    ledger: IdempotencyStore,
    clock: Clock,
    token_id: str,
    run: Callable[[], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Run `run` once per (token, key); replay its stored response to every retry."""
    value = request.headers[HEADER]
    if not _KEY.fullmatch(value):
        raise ApiError(
            400, "invalid_idempotency_key", f"{HEADER} must be 1-255 visible ASCII characters."
        )
    key = f"api:{token_id}:{value}"
    digest = fingerprint(request, raw)
    stored = await ledger.claim(key, digest, now=clock.now(), lease=IN_PROGRESS_LEASE)
    if stored is not None:
        return _replay(stored.request_hash == digest, stored.status, stored.body)
    try:
        response = await run()
    except asyncio.CancelledError:  # shutdown cut the request short: a retry may run it again
        await asyncio.shield(ledger.release(key))
        raise
    except Exception as exc:
        response = to_response(exc)
    if response.status >= 500 or not isinstance(response, web.Response):
        await ledger.release(key)
        return response
    body = response.text or ""
    await ledger.finish(key, status=response.status, body=body)
    return response


def _replay(same: bool, status: int | None, body: str | None) -> web.Response:
    if not same:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was used for a different request; use a new key.",
        )
    if status is None:
        raise ApiError(
            409,
            "idempotency_in_progress",
            f"A request with this {HEADER} is still running; retry in a moment.",
        )
    return web.Response(
        status=status,
        text=body or None,
        content_type="application/json" if body else None,
        headers={REPLAYED: "true"},
    )


__all__ = ["HEADER", "REPLAYED", "idempotent"]
