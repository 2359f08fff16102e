"""Core forms (Edit, a high-risk action's typed name, Answer) as Slack modals, and back.

The modal's `private_metadata` carries the click it repeats (action id and value), the channel
and the click's response_url (where the outcome goes: a modal submit has none of its own).
Slack only echoes it back in the signed `view_submission`; who may decide is still checked then.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.blocks import Block, clip, mrkdwn
from core.views import Form, FormField, Reply, unescape

FORM_CALLBACK = "request_form"
# Slack's limits for modals: title, submit and close 24; plain_text_input 3,000 (its
# initial_value too); placeholder 150; an error under a field is kept short.
MAX_TITLE = 24
MAX_INPUT = 3000
MAX_PLACEHOLDER = 150
MAX_LABEL = 2000
MAX_ERROR = 300
MAX_TEXT = 3000


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit)}


def _channel_select(field: FormField) -> Block:
    """A picker of the user's own conversations (Slack lists only those they are in)."""
    element: Block = {
        "type": "conversations_select",
        "action_id": field.name,
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if field.initial:
        element["initial_conversation"] = field.initial
    return element


def _input(field: FormField) -> Block:
    element = _channel_select(field) if field.kind == "channel" else _text_input(field)
    return {
        "type": "input",
        "block_id": field.name,
        "optional": not field.required,
        "label": _plain(field.label, MAX_LABEL),
        "element": element,
    }


def _text_input(field: FormField) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": field.name,
        "multiline": field.multiline,
        "max_length": min(field.max_length, MAX_INPUT),
    }
    if field.initial:  # the form never offers more than the input takes (EDIT_MAX)
        element["initial_value"] = field.initial[:MAX_INPUT]
    if field.placeholder:
        element["placeholder"] = _plain(field.placeholder, MAX_PLACEHOLDER)
    return element


def form_modal(form: Form, metadata: dict[str, str]) -> Block:
    """The modal of a form; one without fields only says something (and only closes)."""
    blocks: list[Block] = []
    if form.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip(mrkdwn(form.text), MAX_TEXT)},
            }
        )
    blocks += [_input(field) for field in form.fields]
    modal: Block = {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": _plain(form.title, MAX_TITLE),
        "close": _plain("Cancel" if form.fields else "Close", MAX_TITLE),
        "blocks": blocks,
    }
    if form.fields:
        modal["submit"] = _plain(form.submit, MAX_TITLE)
    return modal


def submitted_values(view: dict[str, Any]) -> dict[str, str]:
    """What was typed, by field (block) name, in the order Slack sent them."""
    values: dict[str, str] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        typed = (actions or {}).get(block_id) or {}
        value = None
        if isinstance(typed, dict):  # a text input's value, or a conversation picker's choice
            value = typed.get("value") or typed.get("selected_conversation")
        values[str(block_id)] = value if isinstance(value, str) else ""
    return values


def field_errors(reply: Reply, values: dict[str, str]) -> dict[str, str] | None:
    """A refusal shown under the field it is about (else the first one), as Slack's
    `response_action: errors`; None when the reply is no refusal."""
    if reply.view.kind != "error" or not values:
        return None
    field = reply.field if reply.field in values else next(iter(values))
    text = unescape(reply.view.title.removeprefix("⚠ "))
    return {field: clip(text, MAX_ERROR)}
