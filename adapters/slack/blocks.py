"""Renders neutral views (§6) as Block Kit, inside Slack's limits: it clips, never fails.

Neutral markup is already Slack mrkdwn (`&amp;`/`&lt;`/`&gt;` escapes, `<@U123>` mentions,
`*bold*`); `mrkdwn` still re-escapes every `<`, `>` and `&` that is not a Slack user mention or
one of those entities, so no text can become `<!channel>` or a `<url|label>` link, and breaks
a plain `@channel`, `@here` or `@everyone` with a zero-width space after the `@`. Clipping
never cuts through an entity or a mention, and a view that does not fit in one message ends
with a note saying what was left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from core.users import is_user_id
from core.views import Button, Confirm, Field, View, escape, unescape

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS_PER_SECTION = 10
MAX_BUTTONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_FALLBACK_TEXT = 3000
# The `confirm` composition object: title, text, confirm and deny texts.
MAX_CONFIRM_TITLE, MAX_CONFIRM_TEXT, MAX_CONFIRM_BUTTON = 100, 300, 30
# Slack rejects messages whose blocks hold roughly 12-13k characters in total
# (`msg_blocks_too_long`, bolt-js#2509/#2867); stay under it with room for the wrapping.
MAX_TOTAL_TEXT = 11_000
ELLIPSIS = "…"

REASON_CALLBACK = "plan_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MAX_REASON = 500

Block = dict[str, Any]
# What may stay as written: a mention, one of the three entities; every other <, > or & is text.
_MARKUP = re.compile(r"<@([^<>]*)>|&(?:amp|lt|gt);|[<>&]")
# Broadcasts Slack may parse in mrkdwn text even without `<!…>`.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What chat.postMessage / chat.update / respond() take: fallback text and blocks."""

    text: str
    blocks: list[Block]


def mrkdwn(text: str) -> str:
    """Neutral markup as safe mrkdwn: Slack user mentions stay, any other markup becomes text."""

    def safe(match: re.Match[str]) -> str:
        user_id = match.group(1)
        if user_id is None:
            return match.group(0) if len(match.group(0)) > 1 else escape(match.group(0))
        return match.group(0) if is_user_id(user_id, "slack") else "@" + escape(user_id)

    return _BROADCAST.sub("@\u200b\\1", _MARKUP.sub(safe, text))


def _safe_view(view: View) -> View:
    """The view with every text passed through `mrkdwn` (button labels are plain text)."""
    return replace(
        view,
        title=mrkdwn(view.title),
        fields=[Field(mrkdwn(f.label), mrkdwn(f.value), f.inline) for f in view.fields],
        blocks=[mrkdwn(b) for b in view.blocks],
        footer=mrkdwn(view.footer) if view.footer else None,
    )


def clip(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters with "…", never splitting `&amp;` or `<@U1>`."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def chunks(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, at line breaks when possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            head = clip(line, limit)[: -len(ELLIPSIS)] or line[:limit]
            pieces, current = _flush(pieces, current), ""
            pieces.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces, current = _flush(pieces, current), line
        else:
            current = candidate
    return _flush(pieces, current) or [""]


def _flush(pieces: list[str], current: str) -> list[str]:
    return [*pieces, current] if current else pieces


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text or " "}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(clip(text, MAX_SECTION_TEXT))}


def _field_text(item: Field, limit: int) -> str:
    return clip(f"*{item.label}*\n{item.value}", limit)


def _field_blocks(fields: list[Field]) -> list[Block]:
    """Inline fields two-up in sections of at most 10; wide fields as their own section."""
    blocks: list[Block] = []
    row: list[dict[str, str]] = []
    for item in fields:
        if item.inline:
            row.append(_mrkdwn(_field_text(item, MAX_FIELD_TEXT)))
            if len(row) == MAX_FIELDS_PER_SECTION:
                blocks.append({"type": "section", "fields": row})
                row = []
            continue
        if row:
            blocks.append({"type": "section", "fields": row})
            row = []
        blocks.append(_section(_field_text(item, MAX_SECTION_TEXT)))
    if row:
        blocks.append({"type": "section", "fields": row})
    return blocks


def button(item: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": clip(item.action_id, MAX_ACTION_ID),
        "value": item.value[:MAX_BUTTON_VALUE],
        "text": {"type": "plain_text", "text": clip(item.label, MAX_BUTTON_TEXT), "emoji": True},
    }
    if item.style in ("primary", "danger"):
        element["style"] = item.style
    if item.confirm is not None:
        element["confirm"] = confirm_object(item.confirm)
    return element


def confirm_object(ask: Confirm) -> Block:
    """The dialog Slack shows before the click is sent (plain titles, mrkdwn text)."""

    def plain(text: str, limit: int) -> dict[str, str]:
        return {"type": "plain_text", "text": clip(unescape(text), limit)}

    return {
        "title": plain(ask.title, MAX_CONFIRM_TITLE),
        "text": _mrkdwn(clip(mrkdwn(ask.text), MAX_CONFIRM_TEXT)),
        "confirm": plain(ask.confirm, MAX_CONFIRM_BUTTON),
        "deny": plain(ask.deny, MAX_CONFIRM_BUTTON),
    }


def _actions(buttons: list[Button]) -> list[Block]:
    if not buttons:
        return []
    return [{"type": "actions", "block_id": "actions", "elements": [button(b) for b in buttons]}]


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(clip(text, MAX_SECTION_TEXT))]}


def _text_size(block: Block) -> int:
    """Characters of text a block carries (what Slack's cumulative limit counts)."""
    if "fields" in block:
        return sum(len(f["text"]) for f in block["fields"])
    if "text" in block:
        return len(block["text"]["text"])
    if block["type"] == "context":
        return sum(len(e["text"]) for e in block["elements"])
    return 0


def _fit(body: list[Block], tail: list[Block]) -> list[Block]:
    """Keep as much of `body` as fits beside `tail`; note what was left out."""
    room_blocks = MAX_BLOCKS - len(tail) - 1
    room_text = MAX_TOTAL_TEXT - sum(_text_size(b) for b in tail) - 80
    kept: list[Block] = []
    for block in body:
        size = _text_size(block)
        if len(kept) == room_blocks or size > room_text:
            left = len(body) - len(kept)
            note = (
                f"{ELLIPSIS} {left} more part{'s' if left > 1 else ''} did not fit in one message."
            )
            return [*kept, _context(note), *tail]
        kept.append(block)
        room_text -= size
    return [*kept, *tail]


def render(view: View) -> SlackMessage:
    """A neutral view as a Slack message within every Block Kit limit."""
    view = _safe_view(view)
    body = [_section(f"*{view.title}*")]
    body += _field_blocks(view.fields)
    for text in view.blocks:
        body += [_section(piece) for piece in chunks(text, MAX_SECTION_TEXT)]
    tail = _actions(view.buttons[:MAX_BUTTONS])
    if view.footer:
        tail.append(_context(view.footer))
    return SlackMessage(text=fallback_text(view), blocks=_fit(body, tail))


def fallback_text(view: View) -> str:
    """The notification text (shown in push notifications and where blocks are not): the
    view's summary in words when it has one (not the glyphs of its bar), else its title."""
    return clip(mrkdwn(view.summary) if view.summary else view.title, MAX_FALLBACK_TEXT)


def reason_modal(*, plan_title: str, metadata: dict[str, str]) -> Block:
    """The modal Reject opens: one multi-line input for the reason."""
    return {
        "type": "modal",
        "callback_id": REASON_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Reject plan"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _section(clip(f"Rejecting *{mrkdwn(plan_title)}*", MAX_SECTION_TEXT)),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            },
        ],
    }


def submitted_reason(view: dict[str, Any]) -> str | None:
    """The reason typed into the Reject modal, or None when left empty."""
    values = view.get("state", {}).get("values", {})
    value = values.get(REASON_BLOCK, {}).get(REASON_INPUT, {}).get("value")
    if not isinstance(value, str):
        return None
    return value.strip() or None
