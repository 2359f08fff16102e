"""`store.tokens`, `store.idempotency` and `store.installations`: each secret used as meant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.errors import Conflict
from core.records.idempotency import IN_PROGRESS_LEASE, StoredResponse
from core.records.installations import InstallationRecord
from core.records.tokens import ApiToken
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW

LATER = NOW + timedelta(minutes=1)


def _token(token_id: str, name: str = "ci", workspace: str = WS, admin: bool = False) -> ApiToken:
    return ApiToken(token_id, workspace, name, "olga", admin, f"hash-{token_id}", NOW)


def _install(
    team: str, enterprise: str = "", at: object = NOW, token: str = "xoxb-1"
) -> InstallationRecord:
    return InstallationRecord(
        "slack", team, token, at, enterprise_id=enterprise, bot_user_id="U1", bot_id="B1",  # type: ignore[arg-type]
        scopes=("chat:write", "commands"), installer_id="U2", data={"app_id": "A1"},
    )  # fmt: skip


# -- tokens ---------------------------------------------------------------------------------


async def test_a_token_reads_back_and_a_missing_one_is_none(store: Store) -> None:
    token = _token("t1", admin=True)
    await store.tokens.put(token)
    assert await store.tokens.get("t1") == token
    assert await store.tokens.get("t2") is None


async def test_one_active_token_per_name_and_workspace(store: Store) -> None:
    await store.tokens.put(_token("t1"))
    with pytest.raises(Conflict):
        await store.tokens.put(_token("t2"))
    await store.tokens.put(_token("t3", workspace=OTHER_WS))
    await store.tokens.put(_token("t4", name="deploy"))
    assert await store.tokens.get("t2") is None
    assert await store.tokens.revoke("t1", at=LATER)
    await store.tokens.put(_token("t2"))
    assert [t.id for t in await store.tokens.every(WS)] == ["t1", "t2", "t4"]


async def test_a_token_is_revoked_once_and_stays_listed(store: Store) -> None:
    await store.tokens.put(_token("t1"))
    assert await store.tokens.revoke("t1", at=LATER)
    assert not await store.tokens.revoke("t1", at=LATER + timedelta(hours=1))
    assert not await store.tokens.revoke("no-such-token", at=LATER)
    found = await store.tokens.get("t1")
    assert found is not None and (found.revoked_at, found.active) == (LATER, False)


async def test_two_stores_revoking_one_token_concurrently_revoke_it_once(
    store: Store, second: Store
) -> None:
    for n in range(10):
        await store.tokens.put(_token(f"t{n}", name=f"n{n}"))
    revoked = await asyncio.gather(
        *(s.tokens.revoke(f"t{n}", at=LATER) for n in range(10) for s in (store, second))
    )
    for n in range(10):
        assert sorted(revoked[2 * n : 2 * n + 2]) == [False, True], n


async def test_use_is_recorded_and_tokens_list_per_workspace_oldest_first(store: Store) -> None:
    await store.tokens.put(_token("b", workspace=OTHER_WS))
    await store.tokens.put(_token("z", name="one"))
    await store.tokens.put(ApiToken("a", WS, "two", "ivan", False, "hash-a", LATER))
    await store.tokens.used("z", at=LATER)
    await store.tokens.used("no-such-token", at=LATER)
    assert [(t.id, t.last_used_at) for t in await store.tokens.every(WS)] == [
        ("z", LATER), ("a", None),
    ]  # fmt: skip
    assert [t.id for t in await store.tokens.every()] == ["b", "z", "a"], "by workspace"


# -- idempotency ----------------------------------------------------------------------------


async def test_a_key_is_claimed_once_then_replays_its_response(store: Store) -> None:
    claim = store.idempotency.claim
    assert await claim("api:t:k", "h1", now=NOW, lease=IN_PROGRESS_LEASE) is None
    assert await claim("api:t:k", "h1", now=NOW, lease=IN_PROGRESS_LEASE) == StoredResponse("h1")
    assert await claim("api:t:k", "h2", now=NOW, lease=IN_PROGRESS_LEASE) == StoredResponse("h1")
    await store.idempotency.finish("api:t:k", status=201, body="{}")
    far = NOW + 100 * IN_PROGRESS_LEASE
    assert await claim("api:t:k", "h1", now=far, lease=IN_PROGRESS_LEASE) == StoredResponse(
        "h1", 201, "{}"
    )


async def test_two_stores_claiming_keys_concurrently_run_each_once(
    store: Store, second: Store
) -> None:
    claims = await asyncio.gather(
        *(s.idempotency.claim(f"api:t:{n}", "h", now=NOW, lease=IN_PROGRESS_LEASE)
          for n in range(15) for s in (store, second, second))
    )  # fmt: skip
    for n in range(15):
        trio = claims[3 * n : 3 * n + 3]
        assert trio.count(None) == 1 and trio.count(StoredResponse("h")) == 2, (n, trio)


async def test_an_unanswered_claim_is_taken_over_after_its_lease_once(
    store: Store, second: Store
) -> None:
    assert await store.idempotency.claim("api:t:k", "h", now=NOW, lease=IN_PROGRESS_LEASE) is None
    before = NOW + IN_PROGRESS_LEASE - timedelta(microseconds=1)
    assert await second.idempotency.claim(
        "api:t:k", "h", now=before, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h")
    at = NOW + IN_PROGRESS_LEASE
    takeovers = await asyncio.gather(
        *(s.idempotency.claim("api:t:k", "h", now=at, lease=IN_PROGRESS_LEASE)
          for s in (store, second, store, second))
    )  # fmt: skip
    assert takeovers.count(None) == 1, takeovers


async def test_a_released_key_may_be_claimed_again(store: Store) -> None:
    assert await store.idempotency.claim("api:t:k", "h1", now=NOW, lease=IN_PROGRESS_LEASE) is None
    await store.idempotency.release("api:t:k")
    await store.idempotency.release("api:t:never")
    assert await store.idempotency.claim("api:t:k", "h2", now=NOW, lease=IN_PROGRESS_LEASE) is None
    assert await store.idempotency.claim(
        "api:t:k", "h1", now=NOW, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("h2")


async def test_a_key_claimed_by_inbound_chat_is_never_acted_on(store: Store) -> None:
    assert await store.inbound.claim("shared:key", NOW)
    far = NOW + 100 * IN_PROGRESS_LEASE
    assert await store.idempotency.claim(
        "shared:key", "h", now=far, lease=IN_PROGRESS_LEASE
    ) == StoredResponse("")


# -- installations and OAuth state ------------------------------------------------------------


async def test_an_installation_reads_back_by_its_exact_key(store: Store) -> None:
    team = _install("T1")
    grid = _install("T1", "E1", at=LATER, token="xoxb-2")
    await store.installations.put(team)
    await store.installations.put(grid)
    assert await store.installations.get("slack", team_id="T1") == team
    assert await store.installations.get("slack", team_id="T1", enterprise_id="E1") == grid
    assert await store.installations.get("slack", team_id="T2") is None
    assert await store.installations.get("discord", team_id="T1") is None
    assert await store.installations.for_team("slack", "T1") == grid, "the latest install"
    assert await store.installations.for_team("slack", "T2") is None
    assert await store.installations.every("slack") == [team, grid]
    assert await store.installations.every("discord") == []


async def test_a_reinstall_replaces_and_a_delete_removes_once(store: Store) -> None:
    await store.installations.put(_install("T1"))
    again = _install("T1", at=LATER, token="xoxb-new")
    await store.installations.put(again)
    assert await store.installations.every("slack") == [again]
    assert await store.installations.delete("slack", team_id="T1")
    assert not await store.installations.delete("slack", team_id="T1")
    assert await store.installations.get("slack", team_id="T1") is None


async def test_an_oauth_state_is_consumed_once_before_it_expires(store: Store) -> None:
    expires = NOW + timedelta(minutes=10)
    for state in ("s1", "s2", "s3"):
        await store.installations.put_oauth_state(state, platform="slack", expires_at=expires)
    consume = store.installations.consume_oauth_state
    assert not await consume("s1", platform="discord", now=NOW), "another platform's"
    assert await consume("s1", platform="slack", now=NOW)
    assert not await consume("s1", platform="slack", now=NOW), "used once"
    assert not await consume("s2", platform="slack", now=expires), "expired at its deadline"
    assert not await consume("never", platform="slack", now=NOW)
    assert not await consume("s3", platform="slack", now=NOW), "expired states are purged"


async def test_two_stores_consuming_one_state_concurrently_consume_it_once(
    store: Store, second: Store
) -> None:
    states = [f"state-{n}" for n in range(10)]
    for state in states:
        await store.installations.put_oauth_state(
            state, platform="slack", expires_at=NOW + timedelta(minutes=10)
        )
    used = await asyncio.gather(
        *(s.installations.consume_oauth_state(state, platform="slack", now=NOW)
          for state in states for s in (store, second, store))
    )  # fmt: skip
    for n in range(len(states)):
        assert sorted(used[3 * n : 3 * n + 3]) == [False, False, True], states[n]
