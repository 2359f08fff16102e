"""Hostile user text through the real discord.py client: what reaches Discord is inert.

Every REST body the fake Discord received (channel posts, edits, interaction callbacks and
follow-ups) is scanned: no masked link, no mass mention, no role or raw user mention from user
text, and every message allows no mention to ping.
"""

from __future__ import annotations

import re
from typing import Any

from core.models import Status
from tests.adapters.discord.conftest import (
    Bot,
    People,
    buttons_of,
    click,
    slash,
    text_of,
    user_option,
    workspace,
)
from tests.fakes.discord_api import FakeDiscord

ROLE = "<@&123456789012345678>"
EVIL = f"[Approve](http://evil.example) @everyone @here {ROLE} <@222222222222222222> **x**"
_MASKED_LINK = re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(")
_RAW_MENTION = re.compile(r"(?<!\\)<@[!&]?(\d+)>")


def _opt(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value}


def sent_to_discord(fake: FakeDiscord) -> tuple[str, list[Any]]:
    """The text of every message body sent, and those bodies."""
    bodies = [r.json for r in fake.requests if isinstance(r.json, dict)]
    bodies = [b.get("data", b) if "type" in b else b for b in bodies]  # callbacks wrap `data`
    texts = [text_of(b) for b in bodies if isinstance(b, dict) and b.get("embeds")]
    return "\n".join(texts), bodies


async def test_hostile_text_reaches_discord_inert(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await slash(fake, people.bob, "start", {"title": f"Deploy {EVIL}"})
    await slash(
        fake,
        people.bob,
        "members share",
        [user_option("user", people.carol), _opt("role", "approver")],
    )
    await slash(fake, people.bob, "plan", {"items": f"{EVIL}; roll out {EVIL}"})
    await bot.drain()
    plan = next(m for m in fake.channel_messages(fake.guild.text_channel.id) if buttons_of(m))
    modal = await click(fake, people.carol, buttons_of(plan)[1], int(plan["id"]))
    field_id = modal["data"]["components"][0]["components"][0]["custom_id"]
    submit = fake.modal_submit_payload(
        modal["data"]["custom_id"], {field_id: f"no {EVIL}"}, user=people.carol
    )
    await fake.push_interaction(submit)
    await fake.wait_for_callback(submit)
    await slash(fake, people.bob, "plan", {"ref": "1", "items": f"second {EVIL}"})
    await bot.drain()
    await slash(fake, people.carol, "approve", {"ref": "1"})
    for command, options in (
        ("modify", {"ref": "1", "item": 1, "comment": EVIL}),
        ("note", {"ref": "1", "text": EVIL}),
        ("agent context", {"ref": "1", "pairs": "env=[Approve](http://evil.example)"}),
        ("pause", {"ref": "1", "reason": EVIL}),
        ("search", {"query": "Approve"}),
        ("show", {"ref": "1"}),
        ("history", {"ref": "1"}),
        ("help", {"command": EVIL}),
    ):
        await slash(fake, people.bob, command, options)
    await bot.drain()

    text, bodies = sent_to_discord(fake)
    assert text.count("evil.example") >= 8  # shown, but only as text
    assert _MASKED_LINK.findall(text) == []
    assert "@everyone" not in text and "@here" not in text
    mentioned = set(_RAW_MENTION.findall(text))
    assert mentioned <= {str(people.bob.id), str(people.carol.id)}, mentioned
    assert "<@&" not in text
    assert str(people.bob.id) in mentioned  # our own mentions still work
    with_content = [b for b in bodies if isinstance(b, dict) and b.get("embeds")]
    assert with_content and all(
        (b.get("allowed_mentions") or {}).get("parse") == [] for b in with_content
    ), [b.get("allowed_mentions") for b in with_content]
    session = await bot.session(1, workspace(fake))
    assert session.status is Status.PAUSED


async def test_transfer_and_unshare_through_the_members_group(
    fake: FakeDiscord, bot: Bot, people: People
) -> None:
    await slash(fake, people.bob, "start", {"title": "Deploy"})
    await slash(fake, people.bob, "members share", [user_option("user", people.carol)])
    removed = await slash(fake, people.bob, "members unshare", [user_option("user", people.carol)])
    assert f"no longer shared with <@{people.carol.id}>" in text_of(removed["data"])
    refused = await slash(
        fake,
        people.carol,
        "members transfer",
        [_opt("ref", "1"), user_option("user", people.carol)],
    )
    assert "You can't" in text_of(refused["data"])
    moved = await slash(
        fake, people.bob, "members transfer", [_opt("ref", "1"), user_option("user", people.carol)]
    )
    assert f"handed over to <@{people.carol.id}>" in text_of(moved["data"])
    session = await bot.session(1, workspace(fake))
    assert session.owner_id == str(people.carol.id)
    events = await bot.core.store.events.newest(session.id, limit=50)
    kinds = [e.type.value for e in events]
    assert "transferred" in kinds and "unshared" in kinds
