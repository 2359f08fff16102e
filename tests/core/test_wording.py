"""Wording: counts agree with their nouns, refusals say who may act, hints offer real commands."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from core.grammar import parse
from core.history.summary import ExtractiveSummarizer, SummaryMaterial
from core.models import Actor
from core.runner import CommandRunner
from core.typos import suggest
from core.wiring import Services
from core.wording import natural_list, plural
from tests.conftest import CHAT, actor

OLGA, EDDIE, VERA = actor("olga"), actor("eddie"), actor("vera")


async def said(runner: CommandRunner, who: Actor, text: str) -> str:
    reply = await runner.run(who, CHAT, text)
    assert reply is not None
    return reply.view.plain_text()


def test_one_helper_words_counts_and_lists() -> None:
    assert [plural(n, "item") for n in (0, 1, 2)] == ["0 items", "1 item", "2 items"]
    assert plural(1, "best match", "best matches") == "1 best match"
    assert plural(3, "match") == "3 matches"
    assert natural_list([]) == "" and natural_list(["a"]) == "a"
    assert natural_list(["a", "b", "c"]) == "a, b or c"
    assert natural_list(["a", "b"], last="and") == "a and b"


async def test_a_one_item_plan_and_a_one_message_summary_are_singular(
    runner: CommandRunner, services: Services
) -> None:
    await said(runner, OLGA, "start Deploy")
    text = await said(runner, OLGA, "plan back up")
    assert text.endswith("plan v1 with 1 item submitted for approval")
    session = await services.sessions.find(OLGA, "1")
    material = SummaryMaterial(session, None, {"user": 1}, 0, [], [], [])
    summary = await ExtractiveSummarizer()(material)
    assert summary.headline == "#1 Deploy — pending, 1 message (1 user)"


async def test_a_refusal_names_who_may_act_in_a_natural_list(
    runner: CommandRunner, services: Services
) -> None:
    await said(runner, OLGA, "start Deploy")
    await said(runner, OLGA, "share 1 @vera viewer")
    assert await said(runner, VERA, "pause 1") == (
        "⚠ You can't change this session: you need to be the owner, an editor or an admin."
    )
    assert await said(runner, VERA, "webhook list") == (
        "⚠ You can't manage webhooks: you need to be a workspace admin."
    )
    assert await said(runner, VERA, "summary daily 09:00") == (
        "⚠ You can't schedule channel summaries: you need to be a workspace admin."
    )


async def test_hints_offer_only_commands_the_person_could_run(
    runner: CommandRunner, services: Services
) -> None:
    await said(runner, OLGA, "start Deploy")
    await said(runner, OLGA, "share 1 @eddie editor")
    await said(runner, OLGA, "pause 1")
    assert await said(runner, OLGA, "pause 1") == (
        "⚠ Can't pause session #1: it is paused. From paused you can use `plan`, `resume`, "
        "`complete`, `fail` or `cancel`."
    )
    await said(runner, OLGA, "complete 1 shipped")
    assert await said(runner, OLGA, "pause 1") == (
        "⚠ Can't pause session #1: it is completed. From completed you can use `archive`."
    )
    assert await said(runner, EDDIE, "pause 1") == (
        "⚠ Can't pause session #1: it is completed. Nothing you may run moves it on from completed."
    )
    await said(runner, OLGA, "archive 1")
    assert await said(runner, OLGA, "pause 1") == (
        "⚠ Can't pause session #1: it is archived. An archived session cannot change any more."
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("strat", "start"), ("paus", "pause"), ("stats", None), ("sttas", "stats"), ("lsit", "list")],
)
def test_suggestions_follow_typing_mistakes(typed: str, meant: str | None) -> None:
    if meant is None:
        parse(typed)  # a real command parses
        return
    with pytest.raises(UsageError) as caught:
        parse(typed)
    assert caught.value.message == f"There is no command `{typed}`. Did you mean `{meant}`?"


def test_nothing_close_says_so_and_points_to_help() -> None:
    for typed in ("delete", "x", "frobnicate"):
        with pytest.raises(UsageError) as caught:
            parse(typed)
        assert caught.value.message == (
            f"There is no command `{typed}`; `/session help` lists every command."
        )


def test_equally_close_commands_go_to_the_more_used_one() -> None:
    assert suggest("stat", ["stats", "start"], weights={"start": 9, "stats": 3}) == "start"
    assert suggest("stat", ["stats", "start"], weights={"start": 1, "stats": 3}) == "stats"
    assert suggest("complete", ["delete"]) is None
