"""`/session` commands of the scheduler feature: remind, summary, settings, webhook (and stats)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import cards
from core.errors import NotFound, UsageError
from core.grammar import Command
from core.handlers import Handler, said
from core.jobs import reminders, summaries, views
from core.jobs.webhooks import new_secret
from core.models import Actor, ChatRef, EventType, new_id
from core.records.jobs import WebhookSubscription
from core.settings import describe
from core.views import Reply

if TYPE_CHECKING:
    from core.runner import CommandRunner

EVENT_NAMES = frozenset(e.value for e in EventType)


async def _remind(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session, reminder, timezone = await reminders.create(
        runner.service,
        actor,
        cmd.ref,
        channel_id=chat.channel_id,
        after=cmd.args.get("in"),
        at=cmd.args.get("at"),
        text=cmd.args.get("text"),
    )
    return Reply(views.reminder_set(session, reminder, timezone))


async def _summary(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    service, when = runner.service, cmd.args.get("when")
    if when is None:
        return Reply(await summaries.schedule_view(service, actor, chat.channel_id))
    if when == "now":
        return said(await summaries.now_view(service, actor, chat.channel_id))
    if when == "off":
        removed = await summaries.unsubscribe(service, actor, chat.channel_id)
        return said(views.summary_off(chat.channel_id, removed))
    hour, minute = cmd.args["time"]
    day = f" {cmd.args['day']}" if when == "weekly" else ""
    schedule = f"{when}{day} {hour:02d}:{minute:02d}"
    sub, next_at = await summaries.subscribe(
        service, actor, chat.channel_id, schedule, cmd.args.get("tz")
    )
    return said(views.summary_scheduled(sub, next_at))


async def _settings(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    service = runner.service
    await service.require_admin(actor)
    if "key" not in cmd.args:
        return Reply(views.settings(describe(await service.settings(actor.workspace))))
    key = cmd.args["key"]
    updated = await service.set_setting(actor, key, cmd.args["value"])
    return said(views.settings(describe(updated), changed=key))


async def _webhook(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    service = runner.service
    await service.require_admin(actor, action="manage webhooks")
    action = cmd.args.get("action", "list")
    if action == "list":
        hooks = await service.store.webhooks.in_workspace(actor.workspace)
        policy = service.config.webhook_policy
        return Reply(views.webhook_list(hooks, {w.id: policy.violation(w.url) for w in hooks}))
    if action == "remove":
        removed = await service.store.webhooks.remove(actor.workspace, cmd.args["target"])
        if removed is None:
            raise NotFound("webhook", cmd.args["target"][:40])
        service.webhooks.forget(actor.workspace)
        return Reply(views.webhook_removed(removed))
    await service.config.webhook_policy.check_target(cmd.args["target"])
    events = [e for e in cmd.args.get("events", []) if e != "all"]
    unknown = sorted(set(events) - EVENT_NAMES)
    if unknown:
        raise UsageError(
            f"Unknown event type `{unknown[0][:40]}`. Events: {', '.join(sorted(EVENT_NAMES))}.",
            usage="/session webhook add <url> [events…]",
        )
    webhook = WebhookSubscription(
        id=new_id(),
        workspace=actor.workspace,
        url=cmd.args["target"],
        secret=new_secret(),
        events=tuple(events),
        created_by=actor.user_id,
        created_at=service.clock.now(),
    )
    await service.store.webhooks.add(webhook)
    service.webhooks.forget(actor.workspace)
    return Reply(views.webhook_added(webhook))  # ephemeral: the secret is shown once, privately


async def _stats(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    """The core stats view plus each job's last run and lag (replaces the plain handler)."""
    stats = await runner.service.stats(actor, days=cmd.args.get("days", 30))
    view = cards.stats_view(stats)
    view.fields += views.job_fields(stats.jobs, runner.service.clock.now())
    return Reply(view)


HANDLERS: dict[str, Handler] = {
    "remind": _remind,
    "summary": _summary,
    "settings": _settings,
    "webhook": _webhook,
    "stats": _stats,
}
