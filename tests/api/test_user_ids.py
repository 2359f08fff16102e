"""User ids from the API are checked against the workspace's platform before anything changes."""

from __future__ import annotations

import pytest

from core.store.store import Store
from core.tokens import TokenService
from tests.api.conftest import ApiClient, make_token
from tests.conftest import count

HOSTILE = "U0X> <!channel> <http://evil.example|Re-authenticate"
SLACK_WS = "slack:T0001"


@pytest.mark.parametrize(
    ("workspace", "user_id"),
    [
        (SLACK_WS, HOSTILE),
        (SLACK_WS, "alice"),  # a console name is not a Slack user
        ("discord:1", "1234"),  # too short for a snowflake
        ("console:test", "@alice"),  # the `@` belongs to how people write names, not the id
    ],
)
async def test_share_with_a_malformed_user_id_is_422_and_changes_nothing(
    api: ApiClient, tokens: TokenService, store: Store, workspace: str, user_id: str
) -> None:
    owner = "U0OWNER" if workspace == SLACK_WS else "owner"
    if workspace.startswith("discord"):
        owner = "123456789012345678"
    token = await make_token(tokens, owner, workspace=workspace)
    created = await api.call(
        "POST", "/sessions", token=token, json={"title": "Deploy", "channel_id": "C0GENERAL"}
    )
    assert created.status == 201, created.body
    path = f"/sessions/{created.body['ref']}"
    events = await count(store, "events")
    before = (await api.get(path, token)).body["members"]

    refused = await api.call(
        "POST", f"{path}/members", token=token, json={"user_id": user_id, "role": "approver"}
    )

    assert refused.status == 422, refused.body
    assert "is not a" in refused.body["error"]["message"]
    assert "<" not in refused.body["error"]["message"]
    assert (await api.get(path, token)).body["members"] == before
    assert await count(store, "events") == events


async def test_a_hostile_assignee_is_422_and_changes_nothing(
    api: ApiClient, tokens: TokenService, store: Store
) -> None:
    token = await make_token(tokens, "U0OWNER", workspace=SLACK_WS)
    created = await api.call(
        "POST",
        "/sessions",
        token=token,
        json={"title": "Deploy", "channel_id": "C0GENERAL", "plan": ["build"]},
    )
    assert created.status == 201, created.body
    path = f"/sessions/{created.body['ref']}"
    await api.call("POST", f"{path}/plan/approve", token=token)
    modifications = await count(store, "plan_modifications")

    refused = await api.call(
        "PATCH", f"{path}/plan/items/1", token=token, json={"assignee": HOSTILE}
    )

    assert refused.status == 422, refused.body
    assert await count(store, "plan_modifications") == modifications
    item = (await api.get(f"{path}/plan", token)).body["items"][0]
    assert item["assignee"] is None


async def test_a_well_formed_slack_member_is_added(api: ApiClient, tokens: TokenService) -> None:
    token = await make_token(tokens, "U0OWNER", workspace=SLACK_WS)
    created = await api.call(
        "POST", "/sessions", token=token, json={"title": "Deploy", "channel_id": "C0GENERAL"}
    )
    path = f"/sessions/{created.body['ref']}"
    added = await api.call("POST", f"{path}/members", token=token, json={"user_id": "U0BOB"})
    assert added.status == 200, added.body
    members = (await api.get(path, token)).body["members"]
    assert {m["user_id"] for m in members} == {"U0OWNER", "U0BOB"}
