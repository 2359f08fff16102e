"""An agent's request through the real Bolt app over HTTP, against the fake Web API."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from aiohttp import ClientSession, ClientTimeout
from slack_sdk.models.views import View as SlackView

from bot.api import mount_api
from bot.app import Core
from bot.config import Config
from bot.http import HttpServer
from core.clock import ManualClock
from core.models import Actor, EventType, Source
from core.records.requests import Request, RequestKind, RequestStatus, Risk
from core.services.requests import Ask
from core.tokens import TokenService
from tests.adapters.slack.harness import (
    ALICE,
    BOB,
    CAROL,
    WORKSPACE,
    SlackBot,
    block_text,
    has_buttons,
)
from tests.fakes.slack_api import FakeSlackApi, Message, OpenedView

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
    assert await bot.send(bot.submit_request(opened, BOB, REASON)) == (200, "")
    metadata = json.loads(opened.view["private_metadata"])
    (reply,) = [r for r in fake.responses if metadata["response_url"].endswith(r.response_id)]
    assert "Rejected by <@U0BOB> — wrong version" in (reply.text or "")
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.reason) == (RequestStatus.REJECTED, "wrong version")


async def test_a_choice_button_answers_a_question(bot: SlackBot, fake: FakeSlackApi) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region?", choices=("eu", "us"))
    request_id, post = await posted_request(bot, ask)
    (answered,) = await bot.click("request_choice", post, ALICE)  # the first choice
    assert "Answered by <@U0ALICE>: eu" in (answered.text or "")
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.answer) == (RequestStatus.ANSWERED, "eu")
    await bot.deliver()
    assert [c.params["ts"] for c in fake.calls_to("chat.update")] == [post.ts]


EDITED = '{"service": "api", "version": "1.3"}'
WAIT = timedelta(seconds=30)  # a bound: the decision wakes the wait at once


def waiting(bot: SlackBot, request_id: str) -> asyncio.Task[Request]:
    """The agent's wait for its request, started now."""
    return asyncio.create_task(bot.core.services.requests.wait(AGENT, request_id, WAIT))


async def open_form(bot: SlackBot, action_id: str, post: Message, user: str) -> OpenedView:
    status, _ = await bot.send(bot.click_request(action_id, post, user))
    assert status == 200
    opened = bot.fake.views[-1]
    assert opened.view["callback_id"] == "request_form"
    SlackView(**opened.view).validate_json()  # within Block Kit's limits for modals
    return opened


async def submit(
    bot: SlackBot, opened: OpenedView, user: str, **typed: str
) -> tuple[int, dict[str, object]]:
    """Submit the form as `user` with `typed` by field; returns the ack (status, JSON body)."""
    values = {k: {k: {"type": "plain_text_input", "value": v}} for k, v in typed.items()}
    status, body = await bot.send(bot.submit_request(opened, user, values))
    return status, json.loads(body) if body else {}


def outcome_of(bot: SlackBot, opened: OpenedView) -> list[str]:
    """What was posted to the response_url of the click that opened the form."""
    url = json.loads(opened.view["private_metadata"])["response_url"]
    return [r.text or "" for r in bot.fake.responses if url.endswith(r.response_id)]


def inputs_of(opened: OpenedView) -> dict[str, dict[str, object]]:
    return {b["block_id"]: b["element"] for b in opened.view["blocks"] if b["type"] == "input"}


async def test_edit_approves_the_edited_args_and_wakes_the_waiting_agent(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    wait = waiting(bot, request_id)
    opened = await open_form(bot, "request_edit", post, BOB)
    (args,) = inputs_of(opened).values()
    assert args["initial_value"] == json.dumps({"service": "api", "version": "1.2"}, indent=2)
    assert args["max_length"] == 3000 and args["multiline"] is True
    assert not wait.done()

    assert await submit(bot, opened, BOB, args=EDITED) == (200, {})
    decided = await wait
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == BOB
    assert decided.final_args == {"service": "api", "version": "1.3"}
    assert decided.args == {"service": "api", "version": "1.2"}  # the audit keeps both
    assert any("Approved by <@U0BOB>" in text for text in outcome_of(bot, opened))
    session = await bot.core.store.sessions.get(WORKSPACE, "1")
    assert session is not None
    (event,) = [
        e
        for e in await bot.core.store.events.newest(session.id, limit=10)
        if e.type is EventType.REQUEST_DECIDED
    ]
    assert event.data["args"]["version"] == "1.2" and event.data["edited_args"]["version"] == "1.3"
    await bot.deliver()
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (post.channel, post.ts)
    assert not has_buttons(post.blocks) and "`1.3`" in block_text(post.blocks)


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "a JSON object"),
        ('{"v": NaN}', "not valid JSON"),
        ('{"a":' * 17 + "1" + "}" * 17, "more than 16 deep"),
    ],
)
async def test_unusable_edited_args_keep_the_form_open_and_change_nothing(
    bot: SlackBot, fake: FakeSlackApi, typed: str, error: str
) -> None:
    request_id, post = await posted_request(bot, deploy())
    opened = await open_form(bot, "request_edit", post, BOB)
    status, body = await submit(bot, opened, BOB, args=typed)
    assert status == 200 and body["response_action"] == "errors"
    assert error in body["errors"]["args"]  # type: ignore[index]
    await bot.deliver()
    assert fake.calls_to("chat.update") == [] and outcome_of(bot, opened) == []
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.edited_args) == (RequestStatus.PENDING, None)
    # the same form, corrected, still decides
    assert await submit(bot, opened, BOB, args=EDITED) == (200, {})
    assert await status_of(bot, request_id) is RequestStatus.APPROVED


async def test_a_non_approver_gets_no_edit_form_and_their_submission_is_refused(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy())
    (refusal,) = await bot.click("request_edit", post, CAROL)
    assert refusal.response_type == "ephemeral" and "You can't" in (refusal.text or "")
    assert fake.views == []
    opened = await open_form(bot, "request_edit", post, BOB)
    status, body = await submit(bot, opened, CAROL, args=EDITED)  # bob's form, sent by carol
    assert status == 200 and "You can't approve or reject" in body["errors"]["args"]  # type: ignore[index]
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert (request.status, request.edited_args) == (RequestStatus.PENDING, None)


async def test_high_risk_approve_asks_for_the_name_and_refuses_a_wrong_one(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    request_id, post = await posted_request(bot, deploy(risk=Risk.HIGH, need=1))
    wait = waiting(bot, request_id)
    opened = await open_form(bot, "request_approve", post, BOB)
    assert list(inputs_of(opened)) == ["confirm"] and "high-risk" in block_text(
        opened.view["blocks"]
    )
    status, body = await submit(bot, opened, BOB, confirm="deploy-prod")
    assert status == 200 and "type its name `deploy`" in body["errors"]["confirm"]  # type: ignore[index]
    assert await status_of(bot, request_id) is RequestStatus.PENDING and not wait.done()
    assert await submit(bot, opened, BOB, confirm="deploy") == (200, {})
    assert (await wait).status is RequestStatus.APPROVED
    await bot.deliver()
    assert [c.params["ts"] for c in fake.calls_to("chat.update")] == [post.ts]


async def test_high_risk_edit_takes_the_name_and_the_edited_args(bot: SlackBot) -> None:
    request_id, post = await posted_request(bot, deploy(risk=Risk.HIGH, need=1))
    opened = await open_form(bot, "request_edit", post, BOB)
    assert list(inputs_of(opened)) == ["confirm", "args"]
    _, body = await submit(bot, opened, BOB, confirm="nope", args=EDITED)
    assert "type its name" in body["errors"]["confirm"]  # type: ignore[index]
    assert await submit(bot, opened, BOB, confirm="deploy", args=EDITED) == (200, {})
    _, request = await bot.core.services.requests.get(AGENT, request_id)
    assert request.status is RequestStatus.APPROVED and request.final_args["version"] == "1.3"


async def test_args_too_long_for_a_form_say_where_to_edit_them(bot: SlackBot) -> None:
    request_id, post = await posted_request(bot, deploy(args={"blob": "x" * 3200}))
    opened = await open_form(bot, "request_edit", post, BOB)
    assert inputs_of(opened) == {} and "submit" not in opened.view
    text = block_text(opened.view["blocks"])
    assert "cannot be edited in chat" in text and f"/api/v1/requests/{request_id}/decision" in text


async def test_a_free_text_answer_reaches_the_waiting_agent_with_the_answerer(
    bot: SlackBot, fake: FakeSlackApi
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which window?", free_text=True)
    request_id, post = await posted_request(bot, ask)
    await bot.command(f"share <@{CAROL}|carol> editor")
    wait = waiting(bot, request_id)
    opened = await open_form(bot, "request_answer", post, CAROL)
    assert list(inputs_of(opened)) == ["answer"] and "Which window?" in block_text(
        opened.view["blocks"]
    )
    assert await submit(bot, opened, CAROL, answer="tonight after 18:00") == (200, {})
    answered = await wait
    assert (answered.status, answered.answer) == (RequestStatus.ANSWERED, "tonight after 18:00")
    assert answered.decided_by == CAROL
    await bot.deliver()
    assert [c.params["ts"] for c in fake.calls_to("chat.update")] == [post.ts]
    assert "Answered by <@U0CAROL>: tonight after 18:00" in block_text(post.blocks)


async def test_an_agent_over_http_gets_the_args_an_approver_edited_in_slack(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    """The whole loop as deployed: the agent creates its request and long-polls over the REST
    API on the same server as the Bolt app; an approver clicks Edit in Slack, changes the
    version and submits; the long-poll returns the edited arguments."""

    def with_api(http: HttpServer, core: Core, config: Config) -> None:
        mount_api(http.app, core.services)

    bot = await SlackBot.start(db_url, fake, clock, mount=with_api)
    try:
        await bot.command("start deploy api")
        await bot.command(f"share <@{BOB}|bob> approver")
        _, token = await TokenService(bot.core.store.tokens, clock=clock).create(
            WORKSPACE, "agent", user_id=ALICE
        )
        base = f"http://127.0.0.1:{bot.http.port}/api/v1"
        auth = {"Authorization": f"Bearer {token}"}
        async with ClientSession(timeout=ClientTimeout(total=70)) as agent:
            body = {"action": "deploy", "args": {"service": "api", "version": "1.2"}}
            async with agent.post(f"{base}/sessions/1/requests", json=body, headers=auth) as r:
                assert r.status == 201, await r.text()
                request_id = (await r.json())["id"]

            async def long_poll() -> dict[str, object]:
                url = f"{base}/requests/{request_id}?wait=60"
                async with agent.get(url, headers=auth) as r:
                    assert r.status == 200
                    return dict(await r.json())

            waiting = asyncio.create_task(long_poll())
            await bot.deliver()
            (post,) = [m for m in fake.messages if has_buttons(m.blocks)]
            opened = await open_form(bot, "request_edit", post, BOB)
            assert not waiting.done()
            assert await submit(bot, opened, BOB, args=EDITED) == (200, {})
            answered = await asyncio.wait_for(waiting, timeout=30)
        assert (answered["status"], answered["decided_by"]) == ("approved", BOB)
        assert answered["args_to_run"] == {"service": "api", "version": "1.3"}
        assert answered["args"] == {"service": "api", "version": "1.2"}
        await bot.deliver()
        (update,) = fake.calls_to("chat.update")
        assert (update.params["channel"], update.params["ts"]) == (post.channel, post.ts)
    finally:
        await bot.close()
