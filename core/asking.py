"""The button a message shows now, for the confirmation step of a click (`core/confirms.py`)."""

from __future__ import annotations

from core import cards, request_cards
from core.models import Actor, Decision, PlanStatus
from core.views import Button
from core.wiring import Services


async def shown_button(
    services: Services, actor: Actor, action_id: str, value: str
) -> Button | None:
    """The button as its message shows it now; refused as its press would be (nobody is asked
    to confirm what they may not do)."""
    if action_id in request_cards.ACTIONS:
        request_id, part = request_cards.parse_value(value)
        found = await services.requests.to_decide(actor, request_id, shown_digest=part)
        view = request_cards.message(*found)
    else:
        session, plan = await services.plans.by_id(value, workspace=actor.workspace)
        if plan.status is PlanStatus.PENDING:
            await services.access.require_decision(actor, session, plan, Decision.APPROVE)
        view = cards.plan_message(session, plan)
    return next((b for b in view.buttons if (b.action_id, b.value) == (action_id, value)), None)
