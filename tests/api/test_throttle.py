"""Failed authentications are limited per client address on the injected clock; good tokens
don't use up the allowance, and the limiter forgets the least recently seen keys."""

from __future__ import annotations

import pytest

from bot.api import ApiConfig
from bot.api.runtime import RateLimiter
from core.clock import ManualClock
from core.tokens import TokenService
from tests.api.conftest import ApiClient, make_token

FAILURES = 5
CONFIG = ApiConfig(auth_failures=FAILURES, auth_failure_rate=FAILURES / 60)
BAD = "sbt_0000000000000000_not-a-real-secret"


@pytest.mark.parametrize("api_config", [CONFIG])
async def test_failed_authentications_are_throttled_per_address(
    api: ApiClient, tokens: TokenService, clock: ManualClock
) -> None:
    good = await make_token(tokens, "agent")
    for _ in range(50):  # successes don't count against the address
        assert (await api.get("/sessions", good)).status == 200
    for _ in range(FAILURES - 1):
        assert (await api.get("/sessions", BAD)).status == 401
    assert (await api.get("/sessions")).status == 401  # no token at all counts too

    for token in (BAD, good):  # past the limit the token is not even looked at
        held = await api.get("/sessions", token)
        assert (held.status, held.error) == (429, "rate_limited"), held.body
        assert 1 <= int(held.headers["Retry-After"]) <= 12
    assert (await api.get("/openapi.json")).status == 200  # public routes are not held

    clock.advance(12)  # one failure's worth of allowance back
    assert (await api.get("/sessions", good)).status == 200
    assert (await api.get("/sessions", BAD)).status == 401
    assert (await api.get("/sessions", BAD)).status == 429
    clock.advance(60)  # the full allowance back
    for _ in range(FAILURES):
        assert (await api.get("/sessions", BAD)).status == 401
    assert (await api.get("/sessions", BAD)).status == 429


def test_the_limiter_reads_the_injected_clock_and_stays_bounded() -> None:
    clock = ManualClock()
    limiter = RateLimiter(1.0, 2, clock=clock, max_keys=3)
    assert limiter.take("a") is None and limiter.take("a") is None
    assert limiter.wait("a") == pytest.approx(1.0) and limiter.take("a") == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.wait("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.wait("a") is None
    for key in ("b", "c", "d", "e"):
        limiter.take(key)
    assert len(limiter) == 3  # "a" and "b", the least recently used, were forgotten
    assert limiter.take("a") is None and limiter.take("a") is None  # a fresh bucket
