"""A Reject dialog whose `private_metadata` is not a usable JSON object (nested past the depth
limit, malformed, not an object) is refused: acked, logged, and nothing is decided."""

from __future__ import annotations

import logging

import pytest

from core.models import Status
from tests.adapters.slack.harness import BOB, SlackBot, has_buttons
from tests.adapters.slack.test_flow import REASON, start_with_plan
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import view_submission_request

DEEP = '{"a":' * 65 + "1" + "}" * 65


@pytest.mark.parametrize("metadata", [DEEP, "[" * 5000 + "]" * 5000, "{not json", "[1]"])
async def test_unusable_private_metadata_decides_nothing(
    bot: SlackBot, fake: FakeSlackApi, metadata: str, caplog: pytest.LogCaptureFixture
) -> None:
    plan = await start_with_plan(bot)
    await bot.send(bot.click_request("plan_reject", plan, BOB))
    (opened,) = fake.views
    submit = view_submission_request(
        "plan_reject_reason",
        private_metadata=metadata,
        view_id=opened.view_id,
        user_id=BOB,
        state_values=REASON,
    )
    with caplog.at_level(logging.WARNING, logger="adapters.slack.handlers"):
        status, body = await bot.send(submit)
    assert (status, body) == (200, "")  # acked: the modal closes
    assert any("private_metadata" in r.getMessage() for r in caplog.records)
    await bot.deliver()
    assert fake.responses == [] or all("rejected" not in (r.text or "") for r in fake.responses)
    assert has_buttons(plan.blocks)
    assert await bot.status() is Status.PENDING
