"""Runs a parsed `/session` command or a button click for an adapter and returns a Reply.

Adapters stay thin: parse → `CommandRunner.run` → render. Every error becomes a reply here, so
nothing escapes into a platform handler; unexpected errors are logged with a short reference.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from core import cards
from core.commands import COMMANDS
from core.errors import SessionBotError, UsageError
from core.grammar import Command, parse
from core.handlers import Handler, joined, said
from core.history import handlers as _history_handlers
from core.history.resume import resume_view
from core.jobs import handlers as _jobs_handlers
from core.models import Actor, ChatRef, Decision, ModAction, Role
from core.service import DecisionResult, SessionService
from core.users import check_user_id
from core.views import Accent, Reply, escape, mention
from core.wording import noun_for, plural

_log = logging.getLogger(__name__)

# Told of every command and click: (command or button name, outcome, seconds). Outcomes:
# ok, refused (a SessionBotError answered to the user), error (unexpected), duplicate.
CommandObserver = Callable[[str, str, float], None]
_BUTTONS = {cards.APPROVE_ACTION, cards.REJECT_ACTION, cards.REREQUEST_ACTION}


def no_observer(command: str, outcome: str, seconds: float) -> None:
    """The default observer: nothing is measured."""


class CommandRunner:
    """The one core call an adapter makes per command or click."""

    def __init__(self, service: SessionService, *, observe: CommandObserver = no_observer) -> None:
        self.service = service
        self.observe = observe

    async def run(
        self,
        actor: Actor,
        chat: ChatRef,
        command: Command | str,
        *,
        delivery_key: str | None = None,
    ) -> Reply | None:
        """Run a command; None means a redelivery that was already handled (no second reply)."""
        label = command.name if isinstance(command, Command) else _command_name(command)
        return await self._guarded(label, actor, chat, command, delivery_key, self._dispatch)

    async def click(
        self,
        actor: Actor,
        chat: ChatRef,
        action_id: str,
        value: str,
        *,
        reason: str | None = None,
        delivery_key: str | None = None,
    ) -> Reply | None:
        """A button press on a plan message (Approve / Reject / Request again)."""

        async def press(actor: Actor, chat: ChatRef, _: Command | str) -> Reply:
            return await self._press(actor, action_id, value, reason)

        label = action_id if action_id in _BUTTONS else "button"
        return await self._guarded(label, actor, chat, action_id, delivery_key, press)

    async def _guarded(
        self,
        label: str,
        actor: Actor,
        chat: ChatRef,
        command: Command | str,
        delivery_key: str | None,
        act: Callable[[Actor, ChatRef, Command | str], Awaitable[Reply]],
    ) -> Reply | None:
        started, outcome = time.perf_counter(), "ok"
        try:
            if delivery_key is not None and not await self.service.store.inbound.claim(
                delivery_key, self.service.clock.now()
            ):
                outcome = "duplicate"
                return None
            return await act(actor, chat, command)
        except SessionBotError as exc:
            outcome = "refused"
            return Reply(cards.error_view(exc.message))
        except Exception:
            outcome = "error"
            ref = secrets.token_hex(3)
            _log.exception("command failed (ref %s)", ref)
            return Reply(cards.error_view(f"Something went wrong (ref {ref})."))
        finally:
            self.observe(label, outcome, time.perf_counter() - started)

    async def _dispatch(self, actor: Actor, chat: ChatRef, command: Command | str) -> Reply:
        parsed = parse(command) if isinstance(command, str) else command
        handler = HANDLERS.get(parsed.name)
        if handler is None:
            raise UsageError(
                f"`/session {parsed.name}` is not available in this version yet.",
                usage="/session help",
            )
        return await handler(self, actor, chat, parsed)

    async def _press(self, actor: Actor, action_id: str, plan_id: str, reason: str | None) -> Reply:
        if action_id == cards.APPROVE_ACTION:
            return _decision_reply(
                await self.service.decide(actor, Decision.APPROVE, plan_id=plan_id)
            )
        if action_id == cards.REJECT_ACTION:
            return _decision_reply(
                await self.service.decide(actor, Decision.REJECT, plan_id=plan_id, reason=reason)
            )
        if action_id == cards.REREQUEST_ACTION:
            plan = await self.service.rerequest(actor, plan_id)
            session = await self.service.find(actor, plan.session_id)
            text = f"approval requested again for plan v{plan.version}"
            return said(cards.confirmation(session, text, accent=Accent.WARNING))
        raise UsageError(f"Unknown button `{action_id[:40]}`.")


def _command_name(text: str) -> str:
    """The command a text names, for measuring (a bounded label; the parser decides the rest)."""
    words = text[:200].split(maxsplit=2)
    if words and words[0].lower() == "/session":
        words = words[1:]
    if not words:
        return "help"
    name = words[0].lower()
    return name if name in COMMANDS else "unknown"


def _decision_reply(result: DecisionResult) -> Reply:
    plan, session = result.plan, result.session
    if result.repeated:
        text = f"you already approved plan v{plan.version} ({result.approvals}/"
        text += f"{plan.required_approvals} {noun_for(plan.required_approvals, 'approval')})"
        return Reply(cards.confirmation(session, text))
    if not result.settled:
        text = f"approval counted for plan v{plan.version}: {result.approvals}/"
        text += f"{plan.required_approvals}"
        return said(cards.confirmation(session, text, accent=Accent.WARNING))
    verb = plan.status.value
    text = f"plan v{plan.version} {verb} by {mention(plan.decided_by)}"
    if plan.decision_reason:
        text += f" — {escape(plan.decision_reason)}"
    accent = Accent.SUCCESS if verb == "approved" else Accent.DANGER
    return said(
        cards.confirmation(session, text + f"; session is {session.status.value}", accent=accent)
    )


async def _help(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    name = cmd.args.get("command")
    if name is not None and name not in COMMANDS:
        raise UsageError(f"No command `{name}`.", usage="/session help [command]")
    return Reply(cards.help_view(COMMANDS[name] if name else None))


async def _start(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session = await runner.service.start(
        actor,
        chat,
        cmd.args["title"],
        mode=cmd.args.get("mode"),
        max_iterations=cmd.args.get("max"),
    )
    return said(
        cards.confirmation(session, f"started by {mention(actor.user_id)} ({session.mode})")
    )


async def _list(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    listing = await runner.service.list_sessions(
        actor,
        filter=cmd.args.get("filter", "open"),
        owner=cmd.args.get("owner"),
        mode=cmd.args.get("mode"),
        page=cmd.args.get("page", 1),
    )
    view = cards.session_list(
        listing.sessions,
        total=listing.total,
        page=listing.page,
        pages=listing.pages,
        heading=listing.heading,
        now=runner.service.clock.now(),
    )
    return Reply(view)


async def _show(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    detail = await runner.service.show(actor, cmd.ref, channel_id=chat.channel_id)
    view = cards.session_card(
        detail.session,
        detail.members,
        detail.plan,
        now=runner.service.clock.now(),
        lineage=detail.lineage,
    )
    return Reply(view)


def _lifecycle(name: str, verb: str, text_arg: str | None) -> Handler:
    async def handler(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
        method = getattr(runner.service, name)
        kwargs = {text_arg: cmd.args[text_arg]} if text_arg and text_arg in cmd.args else {}
        if name == "fail":
            kwargs = {"reason": cmd.args["reason"]}
        session = await method(actor, cmd.ref, channel_id=chat.channel_id, **kwargs)
        text = f"{verb} by {mention(actor.user_id)}"
        if kwargs:
            text += f" — {escape(next(iter(kwargs.values())))}"
        return said(cards.confirmation(session, text))

    return handler


async def _resume(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session = await runner.service.resume(actor, cmd.ref, channel_id=chat.channel_id)
    return said(await resume_view(runner.service, actor, session))


async def _extend(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    duration: timedelta = cmd.args["duration"]
    session = await runner.service.extend(actor, cmd.ref, duration, channel_id=chat.channel_id)
    deadline = f"{session.abandon_at:%Y-%m-%d %H:%M} UTC" if session.abandon_at else "—"
    return said(cards.confirmation(session, f"extended; abandon deadline {deadline}"))


async def _share(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    role = Role(cmd.args.get("role", "editor"))
    session = await runner.service.share(
        actor, cmd.ref, cmd.args["user"], role=role, channel_id=chat.channel_id
    )
    text = (
        f"shared with {mention(check_user_id(actor.workspace, cmd.args['user']))} as {role.value}"
    )
    return said(cards.confirmation(session, text))


async def _transfer(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    previous = await runner.service.find(actor, cmd.ref, channel_id=chat.channel_id)
    session = await runner.service.transfer(actor, previous.id, cmd.args["user"])
    text = f"handed over to {mention(session.owner_id)}; {mention(previous.owner_id)} "
    return said(cards.confirmation(session, text + "stays on as an editor"))


async def _unshare(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session = await runner.service.unshare(
        actor, cmd.ref, cmd.args["user"], channel_id=chat.channel_id
    )
    text = f"no longer shared with {mention(check_user_id(actor.workspace, cmd.args['user']))}"
    return said(cards.confirmation(session, text))


async def _plan(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    plan = await runner.service.submit_plan(
        actor,
        cmd.ref,
        cmd.args["items"],
        need=cmd.args.get("need", 1),
        expires=cmd.args.get("expires"),
        channel_id=chat.channel_id,
    )
    session = await runner.service.find(actor, plan.session_id)
    text = f"plan v{plan.version} with {plural(len(plan.items), 'item')} submitted for approval"
    if plan.required_approvals > 1:
        text += f" (needs {plan.required_approvals})"
    known = len(await runner.service.deciders(session, plan))
    if plan.required_approvals > known:
        text += (
            f". Warning: only {known} known {'person' if known == 1 else 'people'} can approve it"
            " (the owner, approvers and named admins): share it with more approvers"
            " (`/session share @name approver`) or it cannot pass"
        )
    return said(cards.confirmation(session, text, accent=Accent.WARNING))


async def _approve(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    result = await runner.service.decide(
        actor, Decision.APPROVE, ref=cmd.ref, channel_id=chat.channel_id
    )
    return _decision_reply(result)


async def _reject(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    result = await runner.service.decide(
        actor,
        Decision.REJECT,
        ref=cmd.ref,
        channel_id=chat.channel_id,
        reason=cmd.args.get("reason"),
    )
    return _decision_reply(result)


async def _modify(runner: CommandRunner, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    if "status" in cmd.args:
        action, value = ModAction.STATUS_CHANGE, cmd.args["status"]
    elif "assign" in cmd.args:
        action, value = ModAction.REASSIGN, cmd.args["assign"]
    else:
        action, value = ModAction.COMMENT, cmd.args["comment"]
    mod = await runner.service.modify(
        actor, cmd.ref, cmd.args["item"], action, value, channel_id=chat.channel_id
    )
    session = await runner.service.find(actor, mod.session_id)
    shown = mention(mod.value) if action is ModAction.REASSIGN else escape(value)
    text = f"item {mod.position}: {action.value.replace('_', ' ')} → {shown}"
    return said(cards.confirmation(session, text))


# Every `/session` command's handler: the runner's own, then each feature's table.
HANDLERS = joined(
    {
        "help": _help,
        "start": _start,
        "list": _list,
        "show": _show,
        "resume": _resume,
        "extend": _extend,
        "share": _share,
        "transfer": _transfer,
        "unshare": _unshare,
        "plan": _plan,
        "approve": _approve,
        "reject": _reject,
        "modify": _modify,
        "pause": _lifecycle("pause", "paused", "reason"),
        "complete": _lifecycle("complete", "completed", "summary"),
        "fail": _lifecycle("fail", "failed", "reason"),
        "cancel": _lifecycle("cancel", "cancelled", "reason"),
        "archive": _lifecycle("archive", "archived", None),
    },
    _history_handlers.HANDLERS,
    _jobs_handlers.HANDLERS,
)

__all__ = ["CommandRunner"]
