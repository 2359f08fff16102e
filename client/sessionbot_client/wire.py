"""What goes over the wire, written once for the sync and the async client.

Every operation is a generator (a `Flow`) that yields `Call`s and `Sleep`s and is sent back a
`Reply` (or `Dropped` when no answer came); the two clients only carry these steps out, with
`httpx.Client` and `time.sleep` or `httpx.AsyncClient` and `asyncio.sleep`. Retries, backoff,
the version check and error mapping live here, so both clients behave the same by construction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from sessionbot_client.errors import (
    ConfigurationError,
    IncompatibleServer,
    Unreachable,
    api_error,
)

T = TypeVar("T")

API_VERSIONS = ("1",)  # the REST API versions this client speaks
VERSION_HEADER = "X-Sessionbot-Api"
PREFIX = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:3000"  # `sessionbot serve`'s default address
RETRIED = frozenset({502, 503, 504})  # a proxy or the store was briefly unavailable
IN_PROGRESS = "idempotency_in_progress"  # 409: the first try of this key is still running


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP call: `path` is under `/api/v1`; `wait` is how long the server may hold it."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str | int] | None = None
    idempotency_key: str | None = None
    wait: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Dropped:
    """No answer: the connection was refused, reset or timed out."""

    reason: str


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Flow = Generator[Call | Sleep, Reply | Dropped | None, T]


@dataclass(frozen=True, slots=True)
class Retry:
    """Backoff after a dropped connection or a 502/503/504/429: `first` seconds, doubling up to
    `longest`, until `budget` seconds were spent waiting; then `Unreachable` (or the error)."""

    budget: float = 60.0
    first: float = 0.2
    longest: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Where and as whom: from the arguments, else `SESSIONBOT_URL` / `SESSIONBOT_TOKEN`."""

    url: str
    token: str
    timeout: float = 10.0  # connect/read seconds of a call, on top of its long-poll `wait`
    poll: int = 30  # seconds each long-poll asks the server to hold a pending request
    retry: Retry = field(default_factory=Retry)
    clock: Callable[[], float] = time.monotonic  # measures a caller's `timeout` on a wait

    @classmethod
    def resolve(cls, url: str | None, token: str | None, **options: Any) -> Settings:
        url = url or os.environ.get("SESSIONBOT_URL") or DEFAULT_URL
        token = token or os.environ.get("SESSIONBOT_TOKEN")
        if not token:
            raise ConfigurationError(
                "No API token: pass token=… or set SESSIONBOT_TOKEN "
                "(an operator creates one with `sessionbot token create`)."
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"SESSIONBOT_URL must start with http:// or https://: {url!r}")
        if not 1 <= options.get("poll", 30) <= 60:
            raise ConfigurationError("poll is 1 to 60 seconds (the server holds a wait ≤ 60 s).")
        return cls(url.rstrip("/").removesuffix(PREFIX), token, **options)

    @property
    def api_url(self) -> str:
        return self.url + PREFIX

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}


def path(*parts: str | int) -> str:
    """`/sessions/42/requests` from ("sessions", 42, "requests"), each part escaped."""
    return "".join("/" + quote(str(p), safe="") for p in parts)


def check_version(reply: Reply, url: str) -> None:
    """Refuse a server that speaks another API version, or does not say (not sessionbot, or
    one older than this client). A 5xx without the header may be a proxy: retried instead."""
    stated = reply.headers.get(VERSION_HEADER)
    if stated is None:
        if reply.status >= 500:
            return
        raise IncompatibleServer(
            f"{url} did not say which sessionbot API it speaks (no {VERSION_HEADER} header): "
            f"not a sessionbot server, or one older than this client (which speaks API "
            f"{', '.join(API_VERSIONS)})."
        )
    spoken = {v.strip() for v in stated.split(",")}
    if not spoken & set(API_VERSIONS):
        raise IncompatibleServer(
            f"{url} speaks sessionbot API {stated}; this client speaks "
            f"{', '.join(API_VERSIONS)}. Install a sessionbot-client release for API {stated}."
        )


def _pause(reply: Reply) -> float | None:
    """How long to wait before retrying this answer, or None when it is final."""
    if reply.status in RETRIED:
        return 0.0
    if reply.status == 409 and _code(reply) == IN_PROGRESS:
        return 0.0
    if reply.status == 429:
        try:
            return float(reply.headers.get("Retry-After", "1"))
        except ValueError:
            return 1.0
    return None


def _code(reply: Reply) -> str | None:
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


def exchange(call: Call, settings: Settings) -> Flow[Reply]:
    """Send `call` until it gets a final answer, backing off between tries. A POST carries the
    same `Idempotency-Key` on every try, so the server acts on it once."""
    retry = settings.retry
    delay, spent = retry.first, 0.0
    while True:
        got = yield call
        if isinstance(got, Reply):
            check_version(got, settings.url)
            extra = _pause(got)
            if extra is None:
                return got
        else:
            extra = 0.0
        pause = max(delay, extra)
        if spent + pause > retry.budget:
            if isinstance(got, Reply):
                raise api_error(got.status, got.body)
            raise Unreachable(
                f"No answer from {settings.url} for {spent:.0f} s of retries "
                f"({call.method} {call.path}): {got.reason if got else 'no reply'}"
            )
        yield Sleep(pause)
        spent += pause
        delay = min(delay * 2, retry.longest)


def request(call: Call, settings: Settings) -> Flow[Any]:
    """The JSON body of a successful answer; an API error as its typed exception."""
    reply = yield from exchange(call, settings)
    if reply.status >= 400:
        raise api_error(reply.status, reply.body)
    return reply.body


__all__ = [
    "API_VERSIONS",
    "DEFAULT_URL",
    "VERSION_HEADER",
    "Call",
    "Dropped",
    "Flow",
    "Reply",
    "Retry",
    "Settings",
    "Sleep",
    "check_version",
    "exchange",
    "path",
    "request",
]
