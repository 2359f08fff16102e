"""An agent's request through the real discord.py client against the fake REST and gateway."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from core.models import Actor, Source
from core.records.requests import Request, RequestKind, RequestStatus, Risk
from core.services.requests import Ask
from tests.adapters.discord.conftest import (
    Bot,
    People,
    buttons_of,
    click,
    is_ephemeral,
    slash,
    text_of,
    user_option,
    workspace,
)
from tests.fakes.discord_api import MODAL, FakeDiscord, FakeUser

DEPLOY = Ask(RequestKind.ACTION, action="deploy", args={"service": "api", "version": "1.2"})


async def posted_request(
    fake: FakeDiscord, bot: Bot, people: People, ask: Ask
) -> tuple[Actor, str, dict[str, Any]]:
    """bob starts #1, shares it with carol as approver; his agent asks; returns the post."""
    await slash(fake, people.bob, "start", {"title": "Deploy v2"})
    await slash(
        fake,
        people.bob,
        "members share",
        [user_option("user", people.carol), {"name": "role", "type": 3, "value": "approver"}],
    )
    agent = Actor(workspace(fake), str(people.bob.id), Source.DISCORD)
    request = await bot.core.services.requests.create(agent, "1", ask)
    await bot.drain()
    (post,) = [m for m in fake.messages.values() if buttons_of(m)]
    return agent, request.id, post


async def test_approve_click_approves_and_edits_the_message_in_place(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    approve, edit, reject = buttons_of(post)
    assert approve.startswith("sb:request_approve:") and reject.startswith("sb:request_reject:")
    assert edit.startswith("sb:request_edit:")
    approved = await click(fake, people.carol, approve, int(post["id"]))
    assert not is_ephemeral(approved)
    assert f"Approved by <@{people.carol.id}>" in text_of(approved["data"])
    await bot.drain()
    edited = fake.messages[int(post["id"])]
    assert edited["components"] == [] and "Approved by" in text_of(edited)
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert request.status is RequestStatus.APPROVED


async def test_a_non_approvers_click_is_refused_and_changes_nothing(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    refused = await click(fake, people.dave, buttons_of(post)[0], int(post["id"]))
    assert is_ephemeral(refused)
    await bot.drain()
    assert buttons_of(fake.messages[int(post["id"])])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert request.status is RequestStatus.PENDING


async def test_reject_opens_the_reason_modal_and_rejects_with_the_reason(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    modal = await click(fake, people.carol, buttons_of(post)[2], int(post["id"]))
    assert modal["type"] == MODAL
    field_id = modal["data"]["components"][0]["components"][0]["custom_id"]
    submit = fake.modal_submit_payload(
        modal["data"]["custom_id"], {field_id: "wrong version"}, user=people.carol
    )
    await fake.push_interaction(submit)
    answer = (await fake.wait_for_callback(submit)).json
    assert "Rejected by" in text_of(answer["data"])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.reason) == (RequestStatus.REJECTED, "wrong version")


async def test_a_choice_button_answers_a_question(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region?", choices=("eu", "us"))
    agent, request_id, post = await posted_request(fake, bot, people, ask)
    second = buttons_of(post)[1]
    answered = await click(fake, people.bob, second, int(post["id"]))
    assert "us" in text_of(answered["data"])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.answer) == (RequestStatus.ANSWERED, "us")


HIGH = Ask(RequestKind.ACTION, action="deploy", args={"version": "1.2"}, risk=Risk.HIGH, need=1)
EDITED = '{"service": "api", "version": "1.3"}'
WAIT = timedelta(seconds=30)  # a bound: the decision wakes the wait at once


def waiting(bot: Bot, agent: Actor, request_id: str) -> asyncio.Task[Request]:
    return asyncio.create_task(bot.core.services.requests.wait(agent, request_id, WAIT))


def inputs_of(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = modal["data"]["components"]
    return {c["custom_id"]: c for row in rows for c in row["components"]}


async def submit(fake: FakeDiscord, modal: dict[str, Any], user: FakeUser, **typed: str) -> Any:
    """Submit the modal as `user` with `typed` by input; returns the callback body."""
    payload = fake.modal_submit_payload(modal["data"]["custom_id"], typed, user=user)
    await fake.push_interaction(payload)
    return (await fake.wait_for_callback(payload)).json


async def open_modal(
    fake: FakeDiscord, user: FakeUser, post: dict[str, Any], action: str
) -> dict[str, Any]:
    (button,) = [
        b for b in buttons_of(post) if b.split(":")[:2] in (["sb", action], ["sbk", action])
    ]
    modal = await click(fake, user, button, int(post["id"]))
    if button.startswith("sbk:"):  # a high-risk Approve asks first; Confirm opens the form
        assert is_ephemeral(modal) and buttons_of(modal["data"])[0] == button.replace("sbk:", "sb:")
        modal = await click(fake, user, buttons_of(modal["data"])[0], None)
    assert modal["type"] == MODAL, modal
    return modal


async def test_edit_approves_the_edited_args_and_edits_the_message_in_place(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    wait = waiting(bot, agent, request_id)
    modal = await open_modal(fake, people.carol, post, "request_edit")
    (args,) = inputs_of(modal).values()
    assert args["value"] == json.dumps({"service": "api", "version": "1.2"}, indent=2)
    assert args["style"] == 2 and not wait.done()  # a paragraph input

    approved = await submit(fake, modal, people.carol, args=EDITED)
    assert not is_ephemeral(approved) and "Approved by" in text_of(approved["data"])
    decided = await wait
    assert decided.status is RequestStatus.APPROVED
    assert decided.final_args == {"service": "api", "version": "1.3"}
    assert decided.args == {"service": "api", "version": "1.2"}
    await bot.drain()
    edited = fake.messages[int(post["id"])]
    assert edited["components"] == [] and "1.3" in text_of(edited)


async def test_unusable_edited_args_are_refused_and_change_nothing(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    modal = await open_modal(fake, people.carol, post, "request_edit")
    refused = await submit(fake, modal, people.carol, args='{"version": 1.3')
    assert is_ephemeral(refused) and "not valid JSON" in text_of(refused["data"])
    await bot.drain()
    assert buttons_of(fake.messages[int(post["id"])])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.edited_args) == (RequestStatus.PENDING, None)


async def test_a_non_approvers_edit_is_refused(fake: FakeDiscord, bot: Bot, people: People) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    (edit,) = [b for b in buttons_of(post) if b.startswith("sb:request_edit:")]
    no_form = await click(fake, people.dave, edit, int(post["id"]))
    assert no_form["type"] != MODAL and is_ephemeral(no_form)
    modal = await open_modal(fake, people.carol, post, "request_edit")
    refused = await submit(fake, modal, people.dave, args=EDITED)  # carol's form, sent by dave
    assert is_ephemeral(refused) and "You can't" in text_of(refused["data"])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.edited_args) == (RequestStatus.PENDING, None)


async def test_high_risk_approve_asks_for_the_name_and_refuses_a_wrong_one(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, HIGH)
    modal = await open_modal(fake, people.carol, post, "request_approve")
    assert list(inputs_of(modal)) == ["confirm"]
    refused = await submit(fake, modal, people.carol, confirm="Deploy")
    assert is_ephemeral(refused) and "type its name" in text_of(refused["data"])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert request.status is RequestStatus.PENDING
    approved = await submit(fake, modal, people.carol, confirm="deploy")
    assert "Approved by" in text_of(approved["data"])
    await bot.drain()
    assert fake.messages[int(post["id"])]["components"] == []


async def test_a_free_text_answer_reaches_the_waiting_agent_with_the_answerer(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which window?", free_text=True)
    agent, request_id, post = await posted_request(fake, bot, people, ask)
    await slash(fake, people.bob, "members share", [user_option("user", people.dave)])
    wait = waiting(bot, agent, request_id)
    modal = await open_modal(fake, people.dave, post, "request_answer")
    assert list(inputs_of(modal)) == ["answer"]
    await submit(fake, modal, people.dave, answer="tonight after 18:00")
    answered = await wait
    assert (answered.status, answered.answer) == (RequestStatus.ANSWERED, "tonight after 18:00")
    assert answered.decided_by == str(people.dave.id)
    await bot.drain()
    assert "Answered by" in text_of(fake.messages[int(post["id"])])


async def test_args_too_long_for_a_modal_say_where_to_edit_them(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    long = Ask(RequestKind.ACTION, action="deploy", args={"blob": "x" * 3200})
    _, request_id, post = await posted_request(fake, bot, people, long)
    (edit,) = [b for b in buttons_of(post) if b.startswith("sb:request_edit:")]
    notice = await click(fake, people.carol, edit, int(post["id"]))
    assert notice["type"] != MODAL and is_ephemeral(notice)
    text = text_of(notice["data"])
    assert "cannot be edited in chat" in text and request_id in text
