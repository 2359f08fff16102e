"""Failed authentications are limited per client address on the injected clock; good tokens
don't use up the allowance, and the limiter forgets the least recently seen keys."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.api import ApiConfig
from bot.api.auth import client_key
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


@pytest.mark.parametrize("api_config", [ApiConfig(auth_failures=30, auth_failure_rate=30 / 90)])
async def test_bad_tokens_sent_at_once_are_counted_before_any_is_checked(
    api: ApiClient, tokens: TokenService
) -> None:
    unknown = "sbt_" + "0" * 16 + "_" + "x" * 43  # well formed, so each is looked up
    replies = await asyncio.gather(*(api.get("/sessions", unknown) for _ in range(100)))
    statuses = Counter(reply.status for reply in replies)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= 30 and statuses[429] >= 70, statuses
    good = await make_token(tokens, "agent")
    assert (await api.get("/sessions", good)).status == 429  # the address is held


@pytest.mark.parametrize("api_config", [CONFIG])
async def test_good_tokens_sent_at_once_wait_for_lookups_in_flight_instead_of_429(
    api: ApiClient, tokens: TokenService
) -> None:
    """Many agents behind one address starting at once: more lookups than the failure
    allowance are in flight, none has failed, so none is refused."""
    good = [await make_token(tokens, f"agent-{n}") for n in range(40)]
    replies = await asyncio.gather(*(api.get("/sessions", token) for token in good * 3))
    assert Counter(reply.status for reply in replies) == {200: 120}
    for _ in range(FAILURES):  # the allowance is intact: five failures, then held
        assert (await api.get("/sessions", BAD)).status == 401
    assert (await api.get("/sessions", good[0])).status == 429


@pytest.mark.parametrize("api_config", [CONFIG])
async def test_good_and_bad_tokens_at_once_still_bound_the_failures(
    api: ApiClient, tokens: TokenService
) -> None:
    good = await make_token(tokens, "agent")
    unknown = "sbt_" + "0" * 16 + "_" + "x" * 43
    mixed = [good, unknown] * 50
    replies = await asyncio.gather(*(api.get("/sessions", token) for token in mixed))
    bad = Counter(r.status for t, r in zip(mixed, replies, strict=True) if t == unknown)
    assert bad[401] <= FAILURES and bad[401] + bad[429] == 50, bad


def test_the_limiter_gives_back_what_it_took_up_to_the_burst() -> None:
    limiter = RateLimiter(1.0, 2, clock=ManualClock())
    assert limiter.take("a") is None and limiter.take("a") is None
    assert limiter.take("a") is not None
    limiter.refund("a")
    assert limiter.take("a") is None and limiter.take("a") is not None
    for _ in range(5):
        limiter.refund("a")
    assert limiter.take("a") is None and limiter.take("a") is None
    assert limiter.take("a") is not None  # refunds never fill past the burst


def test_ipv6_clients_share_a_bucket_per_64_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("192.0.2.7") == "192.0.2.7" != client_key("192.0.2.8")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("unknown") == "unknown"
