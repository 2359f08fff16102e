"""An agent's request through the real discord.py client against the fake REST and gateway."""

from __future__ import annotations

from typing import Any

from core.models import Actor, Source
from core.records.requests import RequestKind, RequestStatus
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
from tests.fakes.discord_api import MODAL, FakeDiscord

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
