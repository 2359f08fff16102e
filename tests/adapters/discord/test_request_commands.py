"""The request commands through the real discord.py client against the fake REST and gateway:
`/session agent requests`, `/session agent answer` and `/session approve` with a request's id."""

from __future__ import annotations

from core.records.requests import RequestKind, RequestStatus
from core.services.requests import Ask
from tests.adapters.discord.conftest import Bot, People, is_ephemeral, slash, text_of
from tests.adapters.discord.test_requests import DEPLOY, posted_request
from tests.fakes.discord_api import FakeDiscord, FakeUser


async def test_the_agent_group_is_synced_and_fits_under_session(
    fake: FakeDiscord, bot: Bot
) -> None:
    synced = fake.synced_command("session", fake.guild.id)
    assert synced is not None
    top = {o["name"]: o for o in synced["options"]}
    assert len(top) == 25 and "context" not in top and "requests" not in top
    assert {o["name"] for o in top["agent"]["options"]} == {"requests", "answer", "context"}


async def test_requests_lists_and_approve_decides_by_the_request_id(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    agent, request_id, post = await posted_request(fake, bot, people, DEPLOY)
    listed = await slash(fake, people.carol, "agent requests")
    assert is_ephemeral(listed) and request_id in text_of(listed["data"])
    nothing = await slash(fake, people.dave, "agent requests")
    assert "No requests are waiting for you" in text_of(nothing["data"])
    approved = await slash(fake, people.carol, "approve", {"ref": request_id})
    said = f"Approved by <@{people.carol.id}>"
    assert not is_ephemeral(approved) and said in text_of(approved["data"])
    await bot.drain()
    assert said in text_of(fake.messages[int(post["id"])])  # the post, edited in place
    assert not fake.messages[int(post["id"])]["components"]
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.decided_by) == (RequestStatus.APPROVED, str(people.carol.id))


async def test_answer_takes_a_choice_and_refuses_a_session_ref(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which region?", choices=("eu", "us"))
    agent, request_id, _ = await posted_request(fake, bot, people, ask)
    wrong = await slash(fake, people.bob, "agent answer", {"request": "1", "choice": 2})
    assert is_ephemeral(wrong) and "1\\` is a session ref" in text_of(wrong["data"])
    answered = await slash(fake, people.bob, "agent answer", {"request": request_id, "choice": 2})
    assert f"Answered by <@{people.bob.id}>: us" in text_of(answered["data"])
    _, request = await bot.core.services.requests.get(agent, request_id)
    assert (request.status, request.answer) == (RequestStatus.ANSWERED, "us")


async def test_answer_autocompletes_the_questions_waiting_for_this_member(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    ask = Ask(RequestKind.QUESTION, question="Which\nregion first?", choices=("eu", "us"))
    agent, request_id, _ = await posted_request(fake, bot, people, ask)
    await bot.core.services.requests.create(agent, "1", DEPLOY)  # an action: not answered

    async def offered(user: FakeUser, typed: str) -> list[dict[str, str]]:
        payload = fake.autocomplete_payload(
            user=user, subcommand="agent answer", focused="request", value=typed
        )
        await fake.push_interaction(payload)
        choices: list[dict[str, str]] = (await fake.wait_for_callback(payload)).json["data"][
            "choices"
        ]
        return choices

    expected = [{"name": "#1 · Which region first?", "value": request_id}]
    assert await offered(people.bob, "") == expected
    assert await offered(people.bob, "REGION") == expected
    assert await offered(people.bob, request_id[:8]) == expected
    assert await offered(people.bob, "nothing like it") == []
    assert await offered(people.dave, "") == []  # dave may not answer it
