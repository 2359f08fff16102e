"""Runs a parsed `/session` command or a button click for an adapter and returns a Reply.

Adapters stay thin: parse → `CommandRunner.run` → render. Every error becomes a reply here, so
nothing escapes into a platform handler; unexpected errors are logged with a short reference.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypeVar

from core import cards, request_cards, request_commands, start_form
from core.commands import COMMANDS
from core.errors import SessionBotError, UsageError
from core.forms import FormInput, edited_args
from core.grammar import Command, parse
from core.handlers import Handler, joined, said
from core.history import handlers as _history_handlers
from core.history.resume import resume_view
from core.jobs import handlers as _jobs_handlers
from core.models import Actor, ChatRef, Decision, ModAction, Role
from core.records.requests import RequestStatus, Risk
from core.services.plans import DecisionResult
from core.store import claims
from core.users import check_user_id
from core.views import Reply
from core.wiring import Services

_log = logging.getLogger(__name__)
T = TypeVar("T")

# Told of every command and click: (command or button name, outcome, seconds). Outcomes:
# ok, refused (a SessionBotError answered to the user), error (unexpected), duplicate.
CommandObserver = Callable[[str, str, float], None]
_BUTTONS = {cards.APPROVE_ACTION, cards.REJECT_ACTION, cards.REREQUEST_ACTION} | set(
    request_cards.ACTIONS
)


def no_observer(command: str, outcome: str, seconds: float) -> None:
    """The default observer: nothing is measured."""


class CommandRunner:
    """The one core call an adapter makes per command or click."""

    def __init__(self, services: Services, *, observe: CommandObserver = no_observer) -> None:
        self.services = services
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
        form: FormInput | None = None,
        delivery_key: str | None = None,
    ) -> Reply | None:
        """A button press on a plan message (Approve / Reject / Request again) or on an agent's
        request (Approve / Edit / Reject / a choice / Answer), with what its form submitted if
        it opened one (a press that needs a form and has none answers with the form)."""

        async def press(actor: Actor, chat: ChatRef, _: Command | str) -> Reply:
            return await self._press(actor, action_id, value, form or FormInput())

        label = action_id if action_id in _BUTTONS else "button"
        return await self._guarded(label, actor, chat, action_id, delivery_key, press)

    async def start_form(
        self,
        actor: Actor,
        chat: ChatRef,
        values: Mapping[str, str],
        *,
        source: start_form.SourceMessage | None = None,
        delivery_key: str | None = None,
    ) -> Reply | None:
        """The start form's submit: the session, or a refusal naming the field it is about."""

        async def submit(actor: Actor, chat: ChatRef, _: Command | str) -> Reply:
            session = await start_form.start_from_form(
                self.services.sessions, actor, chat, values, source=source
            )
            return said(cards.started(session, actor.user_id))

        return await self._guarded("start", actor, chat, "start", delivery_key, submit)

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
            if delivery_key is None:
                reply, outcome = await _answered(act(actor, chat, command))
                return reply
            # The first unit the command commits claims the key too (core/store/claims.py).
            with claims.claiming(delivery_key, self.services.clock.now()) as claim:
                reply, outcome = await _answered(act(actor, chat, command))
            first, settling = await _answered(claims.settle(claim, self.services.store.inbound))
            if first is False:
                outcome = "duplicate"
                return None
            if isinstance(first, Reply):  # claiming the key failed: that is the answer
                outcome = settling
                return first
            return reply
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
        return await handler(self.services, actor, chat, parsed)

    async def _press(self, actor: Actor, action_id: str, plan_id: str, form: FormInput) -> Reply:
        if action_id in request_cards.ACTIONS:
            return await self._request_press(actor, action_id, plan_id, form)
        if action_id == cards.APPROVE_ACTION:
            return _decision_reply(
                await self.services.plans.decide(actor, Decision.APPROVE, plan_id=plan_id)
            )
        if action_id == cards.REJECT_ACTION:
            return _decision_reply(
                await self.services.plans.decide(
                    actor, Decision.REJECT, plan_id=plan_id, reason=form.reason
                )
            )
        if action_id == cards.REREQUEST_ACTION:
            posted = await self.services.plans.rerequest(actor, plan_id)
            return said(cards.requested_again(posted.session, posted.plan))
        raise UsageError(f"Unknown button `{action_id[:40]}`.")

    async def _request_press(
        self, actor: Actor, action_id: str, value: str, form: FormInput
    ) -> Reply:
        """A click on a request's message, bound to the digest (or choice) it showed."""
        request_id, part = request_cards.parse_value(value)
        requests = self.services.requests
        if action_id == request_cards.REQUEST_CHOICE:
            if not part.isdigit():
                raise UsageError("This choice button is not usable; choose again.")
            outcome = await requests.answer(actor, request_id, choice=int(part))
        elif action_id == request_cards.REQUEST_REJECT:
            outcome = await requests.decide(
                actor, request_id, Decision.REJECT, shown_digest=part, reason=form.reason
            )
        elif action_id == request_cards.REQUEST_ANSWER:
            if form.answer is None:
                session, request = await requests.to_decide(actor, request_id)
                form_view = request_cards.answer_form(request, value)
                return Reply(request_cards.elsewhere(session, request), form=form_view)
            outcome = await requests.answer(actor, request_id, text=form.answer)
        else:
            opened = await self._approval_form(actor, action_id, value, form)
            if opened is not None:
                return opened
            outcome = await requests.decide(
                actor,
                request_id,
                Decision.APPROVE,
                shown_digest=part,
                edited_args=None if form.args is None else edited_args(form.args),
                confirm=form.confirm,
            )
        view = request_cards.decided(
            outcome.session, outcome.request, approvals=outcome.approvals, settled=outcome.settled
        )
        return Reply(view) if outcome.repeated else said(view)

    async def _approval_form(
        self, actor: Actor, action_id: str, value: str, form: FormInput
    ) -> Reply | None:
        """The form an Approve or Edit press opens when it came without one: Edit's arguments,
        and a high-risk action's typed name. None: decide now."""
        request_id, part = request_cards.parse_value(value)
        requests = self.services.requests
        if action_id == request_cards.REQUEST_EDIT and form.args is None:
            session, request = await requests.to_decide(actor, request_id, shown_digest=part)
            edit = request_cards.edit_form(request, value)
            return Reply(request_cards.elsewhere(session, request), form=edit)
        if action_id != request_cards.REQUEST_APPROVE or form.confirm is not None:
            return None
        session, request = await requests.get(actor, request_id)
        if request.risk is not Risk.HIGH or request.status is not RequestStatus.PENDING:
            return None
        session, request = await requests.to_decide(actor, request_id, shown_digest=part)
        confirm = request_cards.confirm_form(request, value)
        return Reply(request_cards.confirm_needed(session, request), form=confirm)


async def _answered(call: Awaitable[T]) -> tuple[T | Reply, str]:
    """What `call` returns, or the reply its error makes; and the outcome to measure."""
    try:
        return await call, "ok"
    except SessionBotError as exc:
        return Reply(cards.error_view(exc.message), field=getattr(exc, "field", None)), "refused"
    except Exception:
        ref = secrets.token_hex(3)
        _log.exception("command failed (ref %s)", ref)
        return Reply(cards.error_view(f"Something went wrong (ref {ref}).")), "error"


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
    view = cards.decision(
        result.session,
        result.plan,
        approvals=result.approvals,
        settled=result.settled,
        repeated=result.repeated,
    )
    return Reply(view) if result.repeated else said(view)


async def _help(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    name = cmd.args.get("command")
    if name is not None and name not in COMMANDS:
        raise UsageError(f"No command `{name}`.", usage="/session help [command]")
    return Reply(cards.help_view(COMMANDS[name] if name else None))


async def _start(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    if "title" not in cmd.args:  # the form, where it can open (with what was given)
        form = start_form.start_form(
            channel_id=chat.channel_id,
            mode=cmd.args.get("mode"),
            max_iterations=cmd.args.get("max"),
        )
        return Reply(start_form.needs_title(), form=form)
    session = await services.sessions.start(
        actor,
        chat,
        cmd.args["title"],
        mode=cmd.args.get("mode"),
        max_iterations=cmd.args.get("max"),
    )
    return said(cards.started(session, actor.user_id))


async def _list(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    listing = await services.sessions.list_sessions(
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
        now=services.clock.now(),
    )
    return Reply(view)


async def _show(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    detail = await services.sessions.show(actor, cmd.ref, channel_id=chat.channel_id)
    view = cards.session_card(
        detail.session,
        detail.members,
        detail.plan,
        now=services.clock.now(),
        lineage=detail.lineage,
    )
    return Reply(view)


def _lifecycle(name: str, verb: str, text_arg: str | None) -> Handler:
    async def handler(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
        method = getattr(services.sessions, name)
        kwargs = {text_arg: cmd.args[text_arg]} if text_arg and text_arg in cmd.args else {}
        if name == "fail":
            kwargs = {"reason": cmd.args["reason"]}
        session = await method(actor, cmd.ref, channel_id=chat.channel_id, **kwargs)
        note = next(iter(kwargs.values()), None)
        return said(cards.status_changed(session, verb, actor.user_id, note))

    return handler


async def _resume(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session = await services.sessions.resume(actor, cmd.ref, channel_id=chat.channel_id)
    return said(await resume_view(services.history, actor, session))


async def _extend(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    duration: timedelta = cmd.args["duration"]
    session = await services.sessions.extend(actor, cmd.ref, duration, channel_id=chat.channel_id)
    return said(cards.extended(session))


async def _share(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    role = Role(cmd.args.get("role", "editor"))
    session = await services.members.share(
        actor, cmd.ref, cmd.args["user"], role=role, channel_id=chat.channel_id
    )
    return said(cards.shared(session, check_user_id(actor.workspace, cmd.args["user"]), role.value))


async def _transfer(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    moved = await services.members.transfer(
        actor, cmd.ref, cmd.args["user"], channel_id=chat.channel_id
    )
    return said(cards.handed_over(moved.session, moved.previous_owner))


async def _unshare(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    session = await services.members.unshare(
        actor, cmd.ref, cmd.args["user"], channel_id=chat.channel_id
    )
    return said(cards.unshared(session, check_user_id(actor.workspace, cmd.args["user"])))


async def _plan(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    posted = await services.plans.submit(
        actor,
        cmd.ref,
        cmd.args["items"],
        need=cmd.args.get("need", 1),
        expires=cmd.args.get("expires"),
        channel_id=chat.channel_id,
    )
    return said(cards.plan_posted(posted.session, posted.plan, posted.deciders))


async def _approve(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    result = await services.plans.decide(
        actor, Decision.APPROVE, ref=cmd.ref, channel_id=chat.channel_id
    )
    return _decision_reply(result)


async def _reject(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    result = await services.plans.decide(
        actor,
        Decision.REJECT,
        ref=cmd.ref,
        channel_id=chat.channel_id,
        reason=cmd.args.get("reason"),
    )
    return _decision_reply(result)


async def _modify(services: Services, actor: Actor, chat: ChatRef, cmd: Command) -> Reply:
    if "status" in cmd.args:
        action, value = ModAction.STATUS_CHANGE, cmd.args["status"]
    elif "assign" in cmd.args:
        action, value = ModAction.REASSIGN, cmd.args["assign"]
    else:
        action, value = ModAction.COMMENT, cmd.args["comment"]
    modified = await services.plans.modify(
        actor, cmd.ref, cmd.args["item"], action, value, channel_id=chat.channel_id
    )
    return said(cards.item_modified(modified.session, modified.modification))


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
        "approve": request_commands.or_request(_approve),
        "reject": request_commands.or_request(_reject),
        "modify": _modify,
        "pause": _lifecycle("pause", "paused", "reason"),
        "complete": _lifecycle("complete", "completed", "summary"),
        "fail": _lifecycle("fail", "failed", "reason"),
        "cancel": _lifecycle("cancel", "cancelled", "reason"),
        "archive": _lifecycle("archive", "archived", None),
    },
    _history_handlers.HANDLERS,
    _jobs_handlers.HANDLERS,
    request_commands.HANDLERS,
)

__all__ = ["CommandRunner"]
