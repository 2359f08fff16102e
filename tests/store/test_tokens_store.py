"""API tokens and Idempotency-Key records in the store, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import Conflict
from core.records.idempotency import IN_PROGRESS_LEASE, StoredResponse
from core.records.tokens import ApiToken
from core.store.factory import open_store
from core.store.store import Store
from tests.conftest import WS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _token(token_id: str, name: str = "ci") -> ApiToken:
    return ApiToken(token_id, WS, name, "olga", False, f"hash-{token_id}", NOW)


async def test_one_active_token_per_name_and_revoked_ones_are_kept(store: Store) -> None:
    await store.tokens.put(_token("a" * 16))
    with pytest.raises(Conflict, match="already exists"):
        await store.tokens.put(_token("b" * 16))
    assert await store.tokens.revoke("a" * 16, at=NOW)
    assert not await store.tokens.revoke("a" * 16, at=NOW), "revoked once"
    await store.tokens.put(_token("b" * 16))
    await store.tokens.used("b" * 16, at=NOW + timedelta(minutes=1))
    listed = await store.tokens.every(WS)
    assert [(t.id[0], t.revoked_at, t.last_used_at) for t in listed] == [
        ("a", NOW, None),
        ("b", None, NOW + timedelta(minutes=1)),
    ]
    assert await store.tokens.get("b" * 16) == listed[1]


async def test_an_idempotency_key_is_claimed_once_then_replays(store: Store) -> None:
    assert await store.idempotency.claim("api:t:k1", "h1", now=NOW, lease=IN_PROGRESS_LEASE) is None
    assert await store.idempotency.claim(
        "api:t:k1", "h1", now=NOW, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1")
    await store.idempotency.finish("api:t:k1", status=201, body='{"ok":true}')
    assert await store.idempotency.claim(
        "api:t:k1", "h2", now=NOW, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1", 201, '{"ok":true}')
    await store.idempotency.release("api:t:k1")
    assert await store.idempotency.claim("api:t:k1", "h3", now=NOW, lease=IN_PROGRESS_LEASE) is None


async def test_a_claim_left_unanswered_by_a_dead_request_is_taken_over_later(
    store: Store,
) -> None:
    assert (
        await store.idempotency.claim("api:t:k2", "h1", now=NOW, lease=IN_PROGRESS_LEASE) is None
    )  # then it dies
    soon = NOW + IN_PROGRESS_LEASE - timedelta(seconds=1)
    assert await store.idempotency.claim(
        "api:t:k2", "h1", now=soon, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1")
    later = NOW + IN_PROGRESS_LEASE
    assert await store.idempotency.claim(
        "api:t:k2", "h2", now=later, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1")
    assert (
        await store.idempotency.claim("api:t:k2", "h1", now=later, lease=IN_PROGRESS_LEASE) is None
    )  # taken over
    assert await store.idempotency.claim(
        "api:t:k2", "h1", now=later, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1")
    await store.idempotency.finish("api:t:k2", status=201, body="{}")
    far = later + 10 * IN_PROGRESS_LEASE
    assert await store.idempotency.claim(
        "api:t:k2", "h1", now=far, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h1", 201, "{}")


async def test_concurrent_claims_of_one_key_on_two_replicas_run_one_request(
    store: Store, db_url: str
) -> None:
    second = open_store(db_url)
    await second.open()
    try:
        claims = await asyncio.gather(
            *(s.idempotency.claim(f"api:t:{n}", "h", now=NOW, lease=IN_PROGRESS_LEASE)
              for n in range(10) for s in (store, second, store))
        )  # fmt: skip
    finally:
        await second.close()
    assert claims.count(None) == 10
    assert all(c == StoredResponse("h") for c in claims if c is not None)
