"""The start form as a Slack modal, opened by a bare `/session start` or by a shortcut.

Two shortcuts (manifest.yml `features.shortcuts`): "Start a session from this message" (a
message shortcut: the form is prefilled with the message's text and the session joins the
message's thread) and "Start a session" (a global shortcut: from anywhere, so the user picks
the channel). The modal is a core form (`adapters/slack/forms.py`); its `private_metadata`
carries the channel, the response_url and the message's thread, which Slack only echoes back
in the signed `view_submission`.
"""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import Block
from adapters.slack.forms import form_modal
from core.start_form import START_ACTION, SourceMessage, start_form
from core.views import Form, unescape

MESSAGE_SHORTCUT = "start_from_message"
GLOBAL_SHORTCUT = "start_session"
SHORTCUTS = (MESSAGE_SHORTCUT, GLOBAL_SHORTCUT)


def source_of(body: dict[str, Any]) -> SourceMessage | None:
    """The message a message shortcut was used on: its channel, the thread it is in (or it
    starts) and its text as typed; None for any other payload."""
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id")
    if body.get("type") != "message_action" or not message.get("ts") or not channel:
        return None
    thread = str(message.get("thread_ts") or message["ts"])
    return SourceMessage(str(channel), thread, unescape(str(message.get("text") or "")))


def start_modal(body: dict[str, Any], *, channel_id: str, form: Form | None = None) -> Block:
    """The start form's modal for a command (its form) or a shortcut (a form made here)."""
    source = source_of(body)
    if form is None:
        form = start_form(channel_id=channel_id or None, source=source)
    metadata = {
        "action_id": START_ACTION,
        "value": form.value,
        "channel_id": channel_id,
        "response_url": str(body.get("response_url") or ""),
    }
    if source is not None:
        metadata |= {"source_channel": source.channel_id, "thread_ref": source.thread_ref}
    return form_modal(form, metadata)


def submitted_source(metadata: dict[str, str]) -> SourceMessage | None:
    """The message a submitted start form came from, as its modal recorded it."""
    channel, thread = metadata.get("source_channel"), metadata.get("thread_ref")
    return SourceMessage(channel, thread) if channel and thread else None
