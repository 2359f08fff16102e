"""Persistent buttons: the action and the plan id live in the custom_id, so clicks on messages
posted before a restart still reach the bot (`ui.DynamicItem`, registered at start).

Reject opens a modal asking for the reason; the modal's submit is the deciding interaction. Its
custom_id carries the plan id too, and submits are routed from the raw interaction
(`ButtonKit.modal_submit`), so a modal opened before a restart still decides after it. The
request forms (Edit, a typed high-risk name, Answer) are routed the same way (`forms.py`).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Self

import discord
from discord import ui

from adapters.discord.embeds import clip, plain
from adapters.discord.forms import form_submit, submitted_values
from core.cards import REJECT_ACTION
from core.forms import FormInput
from core.request_cards import REQUEST_REJECT
from core.views import Button

_log = logging.getLogger(__name__)

# custom_id ≤ 100 chars: `sb:plan_approve:<uuid>` is 52. `sbk:` marks a button that asks
# first (its view button has a `confirm`): its click answers with the confirmation step.
CUSTOM_ID = re.compile(r"sb(?P<ask>k?):(?P<action>[a-z_]{1,32}):(?P<value>[A-Za-z0-9_-]{1,60})")
# A Reject modal: `sbr:<plan id>:<nonce>` (a plan) or `sbq:<request id>_<digest>:<nonce>` (an
# agent's request); the nonce keeps two rejecters' modals apart.
MODAL_ID = re.compile(
    r"(?P<kind>sbr|sbq):(?P<plan>[A-Za-z0-9_-]{1,60}):(?P<nonce>[A-Za-z0-9_-]{1,16})"
)
_MODAL_KINDS = {REJECT_ACTION: "sbr", REQUEST_REJECT: "sbq"}
_MODAL_ACTIONS = {kind: action for action, kind in _MODAL_KINDS.items()}
REASON_ID = "reason"
LABEL_MAX = 80
REASON_MAX = 1000
MODAL_TIMEOUT = 15 * 60.0  # an interaction token lives 15 minutes

ClickHandler = Callable[[discord.Interaction, str, str, FormInput | None], Awaitable[None]]
"""(interaction, action_id, value, form) → handles a click or a submitted form."""
AskHandler = Callable[[discord.Interaction, str, str], Awaitable[None]]
"""(interaction, action_id, value) → answers the click of a button that asks first."""

_STYLES = {
    "primary": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
    "default": discord.ButtonStyle.secondary,
}


def custom_id(action_id: str, value: str, *, ask: bool = False) -> str:
    return f"sb{'k' if ask else ''}:{action_id}:{value}"


class ReasonModal(ui.Modal, title="Reject the plan"):
    """Asks for the reason of a rejection. Its submit is handled from the raw interaction by
    `ButtonKit.modal_submit` (which also sees submits of modals opened before a restart)."""

    reason: ui.TextInput[ReasonModal] = ui.TextInput(
        label="Why? (optional)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=REASON_MAX,
        custom_id=REASON_ID,
    )

    def __init__(self, plan_id: str, action_id: str = REJECT_ACTION) -> None:
        kind = _MODAL_KINDS[action_id]
        super().__init__(
            title="Reject the plan" if action_id == REJECT_ACTION else "Reject the request",
            timeout=MODAL_TIMEOUT,
            custom_id=f"{kind}:{plan_id}:{secrets.token_hex(4)}",
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the `interaction` listener decides, for this process's modals and older ones."""


def submitted_reason(components: Any) -> str | None:
    """The reason text of a modal submit's raw components (action rows or labels), if any."""
    text = submitted_values(components).get(REASON_ID, "").strip()
    return text[:REASON_MAX] or None


class ActionButton(ui.DynamicItem[ui.Button[ui.View]], template=CUSTOM_ID):
    """A view button whose click is routed by its custom_id, whoever posted it and when."""

    def __init__(
        self, action_id: str, value: str, *, label: str = "…", style: str = "", ask: bool = False
    ) -> None:
        button: ui.Button[ui.View] = ui.Button(
            label=clip(label, LABEL_MAX),
            style=_STYLES.get(style, discord.ButtonStyle.secondary),
            custom_id=custom_id(action_id, value, ask=ask),
        )
        super().__init__(button)
        self.action_id = action_id
        self.value = value
        self.ask = ask

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["action"], match["value"], ask=bool(match["ask"]))


class ButtonKit:
    """Builds the buttons of outgoing views and routes their clicks to one handler."""

    def __init__(self, on_click: ClickHandler, on_ask: AskHandler | None = None) -> None:
        # A subclass per kit, so each client routes clicks to its own handler.
        class BoundActionButton(ActionButton, template=CUSTOM_ID):
            async def callback(self, interaction: discord.Interaction) -> None:
                if self.ask and on_ask is not None:
                    await on_ask(interaction, self.action_id, self.value)
                    return
                if self.action_id in _MODAL_KINDS:
                    await interaction.response.send_modal(ReasonModal(self.value, self.action_id))
                    return
                await on_click(interaction, self.action_id, self.value, None)

        self.item_class: type[ActionButton] = BoundActionButton
        self._on_click = on_click

    async def modal_submit(self, interaction: discord.Interaction) -> None:
        """Decide a Reject modal's or a request form's submit (the client's `interaction`
        listener calls this)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Any = interaction.data or {}
        submitted = form_submit(data)
        if submitted is not None:
            await self._on_click(interaction, *submitted)
            return
        match = MODAL_ID.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        reason = FormInput(reason=submitted_reason(data.get("components")))
        await self._on_click(interaction, _MODAL_ACTIONS[match["kind"]], match["plan"], reason)

    def view_for(self, buttons: Sequence[Button]) -> ui.View | None:
        """A persistent ui.View holding the view's buttons, or None when it has none."""
        view = ui.View(timeout=None)
        for button in buttons[:25]:
            if not CUSTOM_ID.fullmatch(custom_id(button.action_id, button.value)):
                _log.warning("button %s dropped: its custom_id would not fit", button.action_id)
                continue
            item = self.item_class(
                button.action_id,
                button.value,
                label=plain(button.label),
                style=button.style,
                ask=button.confirm is not None,
            )
            view.add_item(item)
        return view if view.children else None
