"""The Block Kit renderer keeps every view within Slack's limits, by clipping, never failing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from adapters.slack.blocks import (
    ELLIPSIS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_SECTION_TEXT,
    MAX_TOTAL_TEXT,
    chunks,
    clip,
    reason_modal,
    render,
)
from core.views import Button, Field, View, escape


def check_limits(blocks: list[dict[str, Any]]) -> None:
    """What Slack enforces: slack_sdk's own validators plus the message-level limits."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    total = 0
    for raw in blocks:
        Block.parse(raw).to_dict()  # raises on any broken limit
        if "text" in raw:
            assert len(raw["text"]["text"]) <= MAX_SECTION_TEXT
            total += len(raw["text"]["text"])
        for item in raw.get("fields", []):
            assert len(item["text"]) <= 2000
            total += len(item["text"])
        assert len(raw.get("fields", [])) <= 10
        for element in raw.get("elements", []):
            if element["type"] == "button":
                assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT
    assert total <= MAX_TOTAL_TEXT


def test_a_huge_view_renders_within_the_limits() -> None:
    view = View(
        kind="history",
        title="History of #1 " + "t" * 400,
        fields=[Field(f"Field {n}", "v" * 300, inline=n % 3 != 0) for n in range(200)],
        blocks=["x" * 10_000, "line\n" * 2_000],
        buttons=[Button(f"act_{n}", "v", "L" * 100) for n in range(30)],
        footer="Page 1 of 9",
    )
    message = render(view)
    check_limits(message.blocks)
    assert message.blocks[-1]["type"] == "context"  # the footer survives
    assert message.blocks[-2]["type"] == "actions"  # and so do the buttons
    assert "did not fit" in str(message.blocks[-3])
    assert len(message.text) <= 3000


def test_a_10000_char_text_is_split_into_sections() -> None:
    message = render(View(kind="notice", title="t", blocks=["word " * 2_000]))
    check_limits(message.blocks)
    body = "".join(b["text"]["text"] for b in message.blocks[1:])
    assert body.replace(" ", "") == "word" * 2_000


def test_plan_buttons_render_with_style_and_value() -> None:
    view = View(
        kind="plan",
        title="Plan v1",
        buttons=[
            Button("plan_approve", "p-1", "Approve", "primary"),
            Button("plan_reject", "p-1", "Reject", "danger"),
        ],
    )
    actions = render(view).blocks[-1]
    assert [(e["action_id"], e["value"], e["style"]) for e in actions["elements"]] == [
        ("plan_approve", "p-1", "primary"),
        ("plan_reject", "p-1", "danger"),
    ]


def test_reason_modal_is_valid_block_kit() -> None:
    modal = reason_modal(plan_title="Plan v1 for #1 " + "x" * 5000, metadata={"plan_id": "p"})
    check_limits(modal["blocks"])


def test_clip_never_cuts_through_an_entity_or_a_mention() -> None:
    assert clip("ab &amp; cd", 6) == "ab " + ELLIPSIS
    assert clip("hi <@U0ALICE> there", 8) == "hi " + ELLIPSIS
    assert clip("short", 10) == "short"


@given(st.text(max_size=4000), st.integers(min_value=5, max_value=500))
def test_clipped_escaped_text_stays_well_formed(raw: str, limit: int) -> None:
    text = escape(raw) + " <@U0BOB>"
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    assert clipped.count("<") == clipped.count(">")  # no half mention
    tail = clipped.rsplit("&", 1)[-1] if "&" in clipped else ";"
    assert ";" in tail  # no half entity


@given(st.text(alphabet="ab &;<>@\n", max_size=3000), st.integers(min_value=10, max_value=700))
def test_chunks_respect_the_limit(text: str, limit: int) -> None:
    pieces = chunks(escape(text), limit)
    assert all(len(piece) <= limit for piece in pieces)
