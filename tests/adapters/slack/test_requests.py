"""An agent's request through the real Bolt app over HTTP, against the fake Web API."""

from __future__ import annotations

import json

from core.models import Actor, Source
from core.records.requests import RequestKind, RequestStatus, Risk
from core.services.requests import Ask
from tests.adapters.slack.harness import ALICE, BOB, CAROL, WORKSPACE, SlackBot, has_buttons
from tests.fakes.slack_api import FakeSlackApi, Message
from tests.fakes.slack_signing import view_submission_request

AGENT = Actor(WORKSPACE, ALICE, Source.SLACK)
REASON = {"reason": {"reason_input": {"type": "plain_text_input", "value": "wrong version"}}}


async def posted_request(bot: SlackBot, ask: Ask) -> tuple[str, Message]:
    """alice starts #1 and shares it with bob as approver; her agent asks; returns the post."""
    await bot.command("start deploy api")
    await bot.command(f"share <@{BOB}|bob> approver")
    await bot.deliver()
    request = await bot.core.services.requests.create(AGENT, "1", ask)
    await bot.deliver()
    (post,) = [m for m in bot.fake.messages if has_buttons(m.blocks)]
    return request.id, post


def deploy(**kw: object) -> Ask:
    fields: dict[str, object] = {"action": "deploy", "args": {"service": "api", "version": "1.2"}}
    return Ask(RequestKind.ACTION, **(fields | kw))  # type: ignore[arg-type]


async def status_of(bot: SlackBot, request_id: str) -> RequestStatus:
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    return request.status


async def test_approve_click_approves_and_updates_the_message_in_place(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    (decided,) = await bot.click("request_approve", post, BOB)
    assert decided.response_type == "in_channel"
    assert "Approved by <@U0BOB>" in (decided.text or "")
    assert await status_of(bot, request_id) is RequestStatus.APPROVED
    await bot.deliver()
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (post.channel, post.ts)
    assert not has_buttons(post.blocks)


async def test_a_non_approvers_click_is_refused_ephemerally_and_changes_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    (refusal,) = await bot.click("request_approve", post, CAROL)
    assert refusal.response_type == "ephemeral"
    await bot.deliver()
    assert fake.calls_to("chat.update") == []
    assert await status_of(bot, request_id) is RequestStatus.PENDING


async def test_a_click_on_arguments_that_changed_is_refused(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    request_id_, digest = str(
        next(
            e["value"]
            for b in post.blocks or []
            for e in b.get("elements", [])
            if e.get("action_id") == "request_approve"
        )
    ).rsplit("_", 1)
    assert request_id_ == request_id
    for block in post.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == "request_approve":
                element["value"] = f"{request_id}_{'0' * len(digest)}"
    (refusal,) = await bot.click("request_approve", post, BOB)
    assert refusal.response_type == "ephemeral"
    assert "changed since it was shown" in (refusal.text or "")
    assert await status_of(bot, request_id) is RequestStatus.PENDING


async def test_reject_opens_the_plans_reason_form_and_rejects_the_request(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    status, _ = await bot.send(bot.click_request("request_reject", post, BOB))
    assert status == 200
    (opened,) = fake.views
    assert opened.view["callback_id"] == "plan_reject_reason"
    assert await status_of(bot, request_id) is RequestStatus.PENDING
    submit = view_submission_request(
        "plan_reject_reason",
        private_metadata=opened.view["private_metadata"],
        view_id=opened.view_id,
        user_id=BOB,
        state_values=REASON,
    )
    assert await bot.send(submit) == (200, "")
    metadata = json.loads(opened.view["private_metadata"])
    (reply,) = [r for r in fake.responses if metadata["response_url"].endswith(r.response_id)]
    assert "Rejected by <@U0BOB> — wrong version" in (reply.text or "")
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.reason) == (RequestStatus.REJECTED, "wrong version")


async def test_a_high_risk_approve_click_explains_how_to_confirm(bot: SlackBot) -> None:
    request_id, post = await posted_request(bot, deploy(risk=Risk.HIGH, need=1))
    (answer,) = await bot.click("request_approve", post, BOB)
    assert answer.response_type == "ephemeral"
    assert "high-risk" in (answer.text or "") and "`deploy`" in (answer.text or "")
    assert await status_of(bot, request_id) is RequestStatus.PENDING


async def test_a_choice_button_answers_a_question(bot: SlackBot, fake: FakeSlackApi) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region?", choices=("eu", "us"))
    request_id, post = await posted_request(bot, ask)
    (answered,) = await bot.click("request_choice", post, ALICE)  # the first choice
    assert "Answered by <@U0ALICE>: eu" in (answered.text or "")
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.answer) == (RequestStatus.ANSWERED, "eu")
    await bot.deliver()
    assert [c.params["ts"] for c in fake.calls_to("chat.update")] == [post.ts]
