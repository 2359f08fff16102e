"""Core forms (Edit, a high-risk action's typed name, Answer) as Discord modals, and back.

The modal's custom_id carries the click it repeats, `sbf:<action>:<value>:<nonce>`, so its
submit is routed from the raw interaction like the Reject modal's (also after a restart); each
text input's custom_id is the `FormInput` field it fills. Who may decide is checked on submit.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import discord
from discord import ui

from adapters.discord.embeds import clip
from core.forms import FormInput
from core.views import Form, FormField, unescape

# custom_id ≤ 100: `sbf:request_approve:<uuid>_<16 hex>:<8 hex>` is 83.
FORM_ID = re.compile(
    r"sbf:(?P<action>[a-z_]{1,32}):(?P<value>[A-Za-z0-9_-]{1,60}):(?P<nonce>[A-Za-z0-9]{1,16})"
)
# Discord's limits: modal title 45, input label 45, placeholder 100, value and length 4,000.
MAX_TITLE = 45
MAX_LABEL = 45
MAX_PLACEHOLDER = 100
MAX_INPUT = 4000
MODAL_TIMEOUT = 15 * 60.0  # an interaction token lives 15 minutes


def form_id(form: Form) -> str | None:
    """The modal's custom_id, or None when the click it repeats would not fit in one."""
    custom_id = f"sbf:{form.action_id}:{form.value}:{secrets.token_hex(4)}"
    return custom_id if FORM_ID.fullmatch(custom_id) else None


def _input(field: FormField) -> ui.TextInput[Any]:
    return ui.TextInput(
        label=clip(field.label, MAX_LABEL),
        style=discord.TextStyle.paragraph if field.multiline else discord.TextStyle.short,
        custom_id=field.name,
        placeholder=clip(field.placeholder, MAX_PLACEHOLDER) if field.placeholder else None,
        default=field.initial[:MAX_INPUT] or None,
        required=field.required,
        max_length=min(field.max_length, MAX_INPUT),
    )


class FormModal(ui.Modal):
    """A core form with fields as a modal. Its submit is handled from the raw interaction by
    `ButtonKit.modal_submit` (which also sees submits of modals opened before a restart)."""

    def __init__(self, form: Form, custom_id: str) -> None:
        super().__init__(
            title=clip(unescape(form.title), MAX_TITLE), timeout=MODAL_TIMEOUT, custom_id=custom_id
        )
        # a modal holds five inputs, of text here (a channel field: the one it opened in)
        for field in [f for f in form.fields if f.kind == "text"][:5]:
            self.add_item(_input(field))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the `interaction` listener decides, for this process's modals and older ones."""


def submitted_values(components: Any) -> dict[str, str]:
    """The text of each input of a modal submit's raw components (action rows or labels)."""
    values: dict[str, str] = {}
    stack = list(components or [])
    while stack:
        component = stack.pop()
        if not isinstance(component, dict):
            continue
        if isinstance(component.get("value"), str) and component.get("custom_id"):
            values[str(component["custom_id"])] = component["value"]
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    return values


def form_submit(data: Any) -> tuple[str, str, FormInput] | None:
    """(action id, value, what was typed) of a form modal's submit; None for any other modal."""
    match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
    if match is None:
        return None
    return match["action"], match["value"], FormInput.of(submitted_values(data.get("components")))
