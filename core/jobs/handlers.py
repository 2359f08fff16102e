"""`/session` commands of the scheduler feature: remind, summary, settings, webhook (and stats)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import cards
from core.grammar import Command
from core.handlers import Handler, said
from core.jobs import reminders, summaries, views
from core.models import Actor, ChatRef
from core.settings import describe
from core.views import Reply

if TYPE_CHECKING:
    from core.wiring import Services


async def _remind(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session, reminder, timezone = await reminders.create(
        services,
        actor,
        cmd.ref,
        channel_id=chat.channel_id,
        after=cmd.args.get("in"),
        at=cmd.args.get("at"),
        text=cmd.args.get("text"),
    )
    return Reply(views.reminder_set(session, reminder, timezone))


async def _summary(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    services, when = services, cmd.args.get("when")
    if when is None:
        return Reply(await summaries.schedule_view(services, actor, chat.channel_id))
    if when == "now":
        return said(await summaries.now_view(services, actor, chat.channel_id))
    if when == "off":
        removed = await summaries.unsubscribe(services, actor, chat.channel_id)
        return said(views.summary_off(chat.channel_id, removed))
    hour, minute = cmd.args["time"]
    day = f" {cmd.args['day']}" if when == "weekly" else ""
    schedule = f"{when}{day} {hour:02d}:{minute:02d}"
    sub, next_at = await summaries.subscribe(
        services, actor, chat.channel_id, schedule, cmd.args.get("tz")
    )
    return said(views.summary_scheduled(sub, next_at))


async def _settings(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    if "key" not in cmd.args:
        return Reply(views.settings(describe(await services.workspace.admin_settings(actor))))
    key = cmd.args["key"]
    updated = await services.workspace.set_setting(actor, key, cmd.args["value"])
    return said(views.settings(describe(updated), changed=key))


async def _webhook(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    action = cmd.args.get("action", "list")
    if action == "list":
        return Reply(views.webhook_list(*await services.workspace.webhook_list(actor)))
    if action == "remove":
        removed = await services.workspace.remove_webhook(actor, cmd.args["target"])
        return Reply(views.webhook_removed(removed))
    webhook = await services.workspace.add_webhook(
        actor, cmd.args["target"], cmd.args.get("events", [])
    )
    return Reply(views.webhook_added(webhook))  # ephemeral: the secret is shown once, privately


async def _stats(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    """The core stats view plus each job's last run and lag (replaces the plain handler)."""
    stats = await services.workspace.stats(actor, days=cmd.args.get("days", 30))
    view = cards.stats_view(stats)
    view.fields += views.job_fields(stats.jobs, services.clock.now())
    return Reply(view)


HANDLERS: dict[str, Handler] = {
    "remind": _remind,
    "summary": _summary,
    "settings": _settings,
    "webhook": _webhook,
    "stats": _stats,
}
