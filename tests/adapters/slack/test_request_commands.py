"""The request commands through the real Bolt app over HTTP (signed slash commands, fake Web API):
`/session requests`, `approve <request id>`, `answer`, and a bad id that changes nothing."""

from __future__ import annotations

from core.records.requests import RequestKind, RequestStatus
from core.services.requests import Ask
from tests.adapters.slack.harness import ALICE, BOB, CAROL, SlackBot, block_text
from tests.adapters.slack.test_requests import AGENT, deploy, posted_request, status_of
from tests.fakes.slack_api import FakeSlackApi, ResponseCall


def shown(call: ResponseCall) -> str:
    """Everything a reply shows: its fallback text and its blocks."""
    return (call.text or "") + "\n" + block_text(call.body.get("blocks"))


async def test_an_approver_lists_and_approves_a_request_by_its_id(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    (listed,) = await bot.command("requests", user=BOB)
    assert listed.response_type == "ephemeral"
    assert request_id in shown(listed) and "`deploy`" in shown(listed)
    (decided,) = await bot.command(f"approve {request_id}", user=BOB)
    assert decided.response_type == "in_channel"
    assert "Approved by <@U0BOB>" in shown(decided)
    assert await status_of(bot, request_id) is RequestStatus.APPROVED
    await bot.deliver()
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (post.channel, post.ts)


async def test_a_question_answered_in_words_and_bad_ids_change_nothing(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region?", choices=("eu",), free_text=True)
    request_id, _ = await posted_request(bot, ask)
    for user, line, said in (
        (ALICE, "answer 1 eu", "`1` is a session ref"),
        (ALICE, f"answer {request_id} choice:2", "Choose a number from 1 to 1."),
        (ALICE, f"approve {request_id}", "A question is answered, not approved"),
        (CAROL, f"answer {request_id} eu", "You can't change this session"),
    ):
        (refused,) = await bot.command(line, user=user)
        assert refused.response_type == "ephemeral" and said in shown(refused)
    assert await status_of(bot, request_id) is RequestStatus.PENDING
    (answered,) = await bot.command(f"answer {request_id} eu, then us")
    assert "Answered by <@U0ALICE>: eu, then us" in shown(answered)
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.answer) == (RequestStatus.ANSWERED, "eu, then us")
