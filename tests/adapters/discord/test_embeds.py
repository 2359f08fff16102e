"""Views render as embeds within Discord's limits, with mentions and markup made safe."""

from __future__ import annotations

from adapters.discord.embeds import markup, page_problems, plain, render, render_one
from core.views import Accent, Button, Field, View, escape, mention
from tests.adapters.discord.conftest import Bot, text_of, workspace
from tests.fakes.discord_api import FakeDiscord

USER = "111111111111111111"


def huge_view() -> View:
    line = f"{mention(USER)} said " + escape("<@222222222222222222> @everyone ") + "x" * 300
    return View(
        kind="history",
        title=f"History of #1 {'t' * 1000} by {mention(USER)}",
        fields=[Field("L" * 500, "v" * 5000, inline=i % 2 == 0) for i in range(60)],
        blocks=["\n".join([line] * 30) for _ in range(12)] + ["y" * 9000],
        buttons=[Button("plan_approve", "p" * 36, "Approve " * 20, "primary")],
        footer="f" * 5000,
        accent=Accent.WARNING,
    )


def test_a_huge_view_renders_within_discord_limits() -> None:
    pages = render(huge_view())
    assert 1 < len(pages) <= 5
    for page in pages:
        assert page_problems(page) == []
    assert "more not shown" in (pages[-1][-1].footer.text or "")


def test_a_huge_view_in_one_message_is_cut_within_limits() -> None:
    page = render_one(huge_view())
    assert page_problems(page) == []
    assert "more not shown" in (page[-1].footer.text or "")


def test_small_views_are_one_embed_with_title_fields_and_colour() -> None:
    view = View(
        kind="stats",
        title="Stats for the last 7 days",
        fields=[Field("Success rate", "90%")],
        blocks=["*Plan v1* — pending"],
        footer="Page 1 of 1",
        accent=Accent.SUCCESS,
    )
    (page,) = render(view)
    (embed,) = page
    assert embed.title == "Stats for the last 7 days"
    assert embed.description == "**Plan v1** — pending"
    assert [(f.name, f.value) for f in embed.fields] == [("Success rate", "90%")]
    assert embed.colour is not None and embed.colour.value == 0x57F287
    assert embed.footer.text == "Page 1 of 1"


def test_user_text_cannot_mention_or_ping() -> None:
    text = markup(f"{mention(USER)}: " + escape("<@222222222222222222> @everyone @here &amp;"))
    assert text.startswith(f"<@{USER}>: ")
    assert "<@222222222222222222>" not in text and "@\u200b222222222222222222" in text
    assert "@\u200beveryone" in text and "@\u200bhere" in text and "&amp;" in text


def test_titles_with_mentions_move_into_the_description() -> None:
    (page,) = render(View(kind="confirmation", title=f"Session #1: started by {mention(USER)}"))
    assert page[0].title is None
    assert page[0].description == f"**Session #1: started by <@{USER}>**"
    assert plain(f"by {mention('sessionbot')}") == "by @sessionbot"


async def test_the_fake_discord_accepts_every_page_of_a_huge_view(
    fake: FakeDiscord, bot: Bot
) -> None:
    channel = str(fake.guild.text_channel.id)
    view = huge_view()
    message_id = await bot.adapter.delivery.post(workspace(fake), channel, None, view)
    posts = fake.requests_matching(f"/channels/{channel}/messages", method="POST")
    assert len(posts) == len(render(view)) and all(r.ok for r in posts)
    await bot.adapter.delivery.update(workspace(fake), channel, message_id, view)
    assert fake.requests_matching(f"/channels/{channel}/messages/{message_id}")[-1].ok
    assert "more not shown" in text_of(fake.messages[int(message_id)])
