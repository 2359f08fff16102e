"""Decisions from the inbox's plain forms, through the same core calls as a chat click: the
same rules, the same compare-and-set, and the same outbox notice that edits the Slack or
Discord message in place."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.context import ME, WEB, see_other
from core.errors import UsageError
from core.forms import edited_args
from core.models import Decision

DONE = "/web/inbox?done=1"


def _text(form: Any, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _decision(form: Any) -> Decision:
    try:
        return Decision(_text(form, "decision"))
    except ValueError:
        raise UsageError("Choose Approve or Reject.") from None


async def plan(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    form = await request.post()
    await ctx.services.plans.decide(
        me.actor(),
        _decision(form),
        plan_id=request.match_info["id"],
        reason=_text(form, "reason") or None,
    )
    return see_other(DONE)


def _edited(form: Any, original: dict[str, Any]) -> dict[str, Any] | None:
    """The arguments as edited in the form's textarea (read as chat's Edit form reads them);
    None when unchanged or left out."""
    text = _text(form, "args", 256 * 1024)
    if not text:
        return None
    edited = edited_args(text)
    return None if edited == original else edited


async def request_decision(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    form = await request.post()
    actor = me.actor()
    request_id = request.match_info["id"]
    _, asked = await ctx.services.requests.get(actor, request_id)
    decision = _decision(form)
    await ctx.services.requests.decide(
        actor,
        request_id,
        decision,
        shown_digest=_text(form, "digest") or None,
        reason=_text(form, "reason") or None,
        edited_args=_edited(form, asked.final_args) if decision is Decision.APPROVE else None,
        confirm=_text(form, "confirm") or None,
    )
    return see_other(DONE)


async def answer(request: web.Request) -> web.StreamResponse:
    ctx, me = request.app[WEB], request[ME]
    form = await request.post()
    choice = _text(form, "choice")
    await ctx.services.requests.answer(
        me.actor(),
        request.match_info["id"],
        choice=int(choice) if choice.isdigit() else None,
        text=_text(form, "text") or None,
    )
    return see_other(DONE)
