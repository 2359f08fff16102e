"""What every API request needs: the core services, the limits and the per-token rate limiter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from core.history.messages import HistoryService
from core.service import SessionService
from core.tokens import ApiToken, TokenService


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Limits of the HTTP API."""

    max_body: int = 1024 * 1024
    rate: float = 50.0  # requests per second per token, on average
    burst: int = 200  # requests a token may make at once


class RateLimiter:
    """A token bucket per API token; `take` says how long to wait when the bucket is empty."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float | None:
        """None if a request may go now (and count it), else seconds until one may."""
        now = self.clock()
        level, at = self._buckets.get(key, (float(self.burst), now))
        level = min(float(self.burst), level + (now - at) * self.rate)
        if level < 1.0:
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate
        self._buckets[key] = (level - 1.0, now)
        return None


@dataclass(slots=True)
class ApiContext:
    service: SessionService
    history: HistoryService
    tokens: TokenService
    config: ApiConfig
    limiter: RateLimiter = field(init=False)
    openapi: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate, self.config.burst)


API = web.AppKey("api", ApiContext)
TOKEN = web.RequestKey("api_token", ApiToken)

__all__ = ["API", "TOKEN", "ApiConfig", "ApiContext", "RateLimiter"]
