"""What every API request needs: the core services, the limits and the per-token rate limiter."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.api.auth_gate import AuthGate
from bot.api.parking import Parking
from bot.api.streams import Streams
from core.clock import Clock
from core.history.messages import HistoryService
from core.records.tokens import ApiToken
from core.tokens import TokenService
from core.wiring import Services


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Limits of the HTTP API."""

    max_body: int = 1024 * 1024
    rate: float = 50.0  # requests per second per token, on average
    burst: int = 200  # requests a token may make at once
    auth_failures: int = 30  # failed authentications a client address may make at once
    auth_failure_rate: float = 20 / 60  # … and then one more every 3 s
    limiter_keys: int = 10_000  # tokens or addresses each limiter remembers (least recent go)
    stream_heartbeat: float = 15.0  # seconds of silence before an event stream sends a comment
    stream_lifetime: float = 3600.0  # seconds an event stream lasts; the client then reconnects
    streams_per_token: int = 10  # event streams one token may hold open at once
    streams: int = 1000  # event streams this process holds open at once
    waits_per_token: int = 200  # long-polls and event streams one token may hold open at once


class RateLimiter:
    """A token bucket per key (an API token, a client address) on the injected clock;
    it remembers at most `max_keys` keys, forgetting the least recently used (a forgotten
    key starts again with a full bucket)."""

    def __init__(self, rate: float, burst: int, *, clock: Clock, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str) -> tuple[float, float]:
        now = self.clock.now().timestamp()
        level, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), level + max(0.0, now - at) * self.rate), now

    def _keep(self, key: str, level: float, now: float) -> None:
        self._buckets[key] = (level, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def wait(self, key: str) -> float | None:
        """None if `key` may go now (nothing counted), else seconds until it may."""
        level, _ = self._level(key)
        return None if level >= 1.0 else (1.0 - level) / self.rate

    def take(self, key: str) -> float | None:
        """None if a request may go now (and count it), else seconds until one may."""
        level, now = self._level(key)
        if level < 1.0:
            self._keep(key, level, now)
            return (1.0 - level) / self.rate
        self._keep(key, level - 1.0, now)
        return None

    def refund(self, key: str) -> None:
        """Give back one request `take` counted for `key` (never above the burst)."""
        level, now = self._level(key)
        self._keep(key, min(float(self.burst), level + 1.0), now)

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(slots=True)
class ApiContext:
    services: Services
    history: HistoryService
    tokens: TokenService
    config: ApiConfig
    limiter: RateLimiter = field(init=False)  # requests per token
    failures: RateLimiter = field(init=False)  # failed authentications per client address
    auth_gate: AuthGate = field(init=False)  # … and the token lookups in flight
    openapi: dict[str, Any] = field(default_factory=dict)
    streams: Streams = field(init=False)  # open event streams
    parking: Parking = field(init=False)  # open long-polls and event streams, per token

    def __post_init__(self) -> None:
        c, clock = self.config, self.services.clock
        self.limiter = RateLimiter(c.rate, c.burst, clock=clock, max_keys=c.limiter_keys)
        self.failures = RateLimiter(
            c.auth_failure_rate, c.auth_failures, clock=clock, max_keys=c.limiter_keys
        )
        self.auth_gate = AuthGate(self.failures)
        self.streams = Streams(per_token=c.streams_per_token, total=c.streams)
        self.parking = Parking(c.waits_per_token)


API = web.AppKey("api", ApiContext)
TOKEN = web.RequestKey("api_token", ApiToken)

__all__ = ["API", "TOKEN", "ApiConfig", "ApiContext", "RateLimiter"]
