"""The start form on Discord: a bare `/session start` answers with it (a modal, through the
Replier), and the message command "Start session from message" opens it prefilled with the
message's text; the session then joins the message's thread (or, in a channel without one,
its notices reply to the message, as `delivery.py` does for cards).

The modal's custom_id is a form id (`forms.py`): `sbf:session_start:<message id or ->:<nonce>`,
so its submit is recognised from the raw interaction, also after a restart. Discord modals
hold text inputs here: the channel is always the one the form was opened in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.delivery import REPLY_PREFIX
from adapters.discord.forms import FORM_ID, submitted_values
from core.models import ChatRef
from core.start_form import NO_LINK, START_ACTION, SourceMessage, start_form
from core.views import Form

CONTEXT_MENU = "Start session from message"
MessageHandler = Callable[[discord.Interaction, discord.Message], Awaitable[None]]


def source_of(chat: ChatRef, message_id: int | str, text: str = "") -> SourceMessage:
    """The message as a source: inside a thread the session joins the thread, elsewhere its
    notices reply to the message."""
    thread = chat.thread_ref or f"{REPLY_PREFIX}{message_id}"
    return SourceMessage(chat.channel_id, thread, text)


def message_form(chat: ChatRef, message: discord.Message) -> Form:
    """The start form for a message, carrying the message's id back through its modal."""
    source = source_of(chat, message.id, message.content)
    return start_form(channel_id=chat.channel_id, source=source, value=str(message.id))


def start_submit(interaction: discord.Interaction) -> tuple[str | None, dict[str, str]] | None:
    """(the message id or None, what was typed) of a start form's submit; None for any other
    interaction."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return None
    data: Any = interaction.data or {}
    match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
    if match is None or match["action"] != START_ACTION:
        return None
    value = match["value"]
    message_id = value if value != NO_LINK and value.isdigit() else None
    return message_id, submitted_values(data.get("components"))


def context_menu(handler: MessageHandler) -> app_commands.ContextMenu:
    """The message command, for servers only (sessions live in a server's channels)."""

    async def start_from_message(
        interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await handler(interaction, message)

    menu = app_commands.ContextMenu(name=CONTEXT_MENU, callback=start_from_message)
    menu.guild_only = True
    return menu
