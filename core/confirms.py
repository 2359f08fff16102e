"""Which approvals ask "are you sure?" first, and the question they ask (item 5 of §6).

Approving a plan of a session in `deploy` mode, or an agent's high-risk action, carries a
`Confirm` on its button: Slack shows it as the button's `confirm` dialog, Discord as an
ephemeral step (`prompt`: the same button again, and Cancel). The console needs no step: typing
`!N` is already an explicit choice.
"""

from __future__ import annotations

from core.records.requests import Risk
from core.views import Accent, Button, Confirm, View, escape

DEPLOY_MODE = "deploy"
CANCEL_ACTION = "confirm_cancel"


def plan_approval(mode: str, what: str) -> Confirm | None:
    """The question before approving `what` (a plan, in view markup) in a session of `mode`."""
    if mode != DEPLOY_MODE:
        return None
    return Confirm(
        title="Approve the deploy plan?",
        text=f"Approve the deploy plan for {what}? The session goes ahead as soon as it is.",
        confirm="Approve",
        deny="Cancel",
    )


def request_approval(risk: Risk, action: str) -> Confirm | None:
    """The question before approving an agent's `action` of `risk`."""
    if risk is not Risk.HIGH:
        return None
    return Confirm(
        title="Approve a high-risk action?",
        text=f"`{escape(action)}` is a high-risk action. You will type its name to approve it.",
        confirm="Continue",
        deny="Cancel",
    )


def prompt(button: Button) -> View:
    """A button's question as a message: confirming presses the same button, without asking."""
    assert button.confirm is not None
    ask = button.confirm
    return View(
        kind="confirm",
        title=ask.title,
        blocks=[ask.text],
        buttons=[
            Button(button.action_id, button.value, ask.confirm, "primary"),
            Button(CANCEL_ACTION, button.value, ask.deny),
        ],
        accent=Accent.WARNING,
    )


def cancelled() -> View:
    return View(kind="confirmation", title="Cancelled: nothing was approved.")
