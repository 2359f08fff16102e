"""Bolt listeners for `/session`, the plan and request buttons and their modals: thin by design.

The work of a payload (parse → one `CommandRunner` call → a reply) runs in a tracked task that
turns every failure into a reply, so nothing raised after `ack()` reaches Bolt, and `idle()`
lets shutdown (and tests) wait for in-flight work. A slash command whose reply is ephemeral
(reads, help, errors) and ready within `ack_budget` is answered in the ack itself, which saves
Slack a second request; in-channel replies, slow ones and every click's answer go to the
payload's response_url.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import REASON_CALLBACK, reason_modal, submitted_reason
from adapters.slack.delivery import PLATFORM, InviteHints
from adapters.slack.directory import AdminDirectory
from adapters.slack.forms import FORM_CALLBACK, field_errors, form_modal, submitted_values
from adapters.slack.home import home_view
from adapters.slack.replies import ResponseUrls, message_body
from adapters.slack.shortcuts import SHORTCUTS, start_modal, submitted_source
from core import jsonlimits
from core.cards import APPROVE_ACTION, REJECT_ACTION, REREQUEST_ACTION, error_view
from core.forms import FormInput
from core.models import Actor, ChatRef, Source
from core.request_cards import (
    REQUEST_ANSWER,
    REQUEST_APPROVE,
    REQUEST_CHOICE,
    REQUEST_EDIT,
    REQUEST_REJECT,
)
from core.runner import CommandRunner
from core.start_form import START_ACTION
from core.views import Reply

_log = logging.getLogger(__name__)

COMMAND = "/session"
# How long a command may run before its ack leaves without the answer: Slack waits 3 s for
# the ack, and the network and Bolt need their share of that.
ACK_BUDGET = 1.5
Body = dict[str, Any]
T = TypeVar("T")


def workspace_of(team_id: str) -> str:
    return f"{PLATFORM}:{team_id}"


def _team_of(body: Body) -> str:
    team = body.get("team") or {}
    return str(body.get("team_id") or team.get("id") or body["user"]["team_id"])


def _channel_of(body: Body) -> str:
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    return str(channel.get("id") or container.get("channel_id") or "")


def _metadata(body: Body, what: str) -> dict[str, str] | None:
    """A modal's private_metadata as we wrote it; anything else is refused (and logged)."""
    try:
        metadata = jsonlimits.parse(body["view"].get("private_metadata") or "{}")
    except (ValueError, jsonlimits.TooDeep):
        _log.warning("refused %s whose private_metadata is not usable JSON", what)
        return None
    if not isinstance(metadata, dict):
        _log.warning("refused %s whose private_metadata is not an object", what)
        return None
    return {str(k): str(v) for k, v in metadata.items()}


class SlackHandlers:
    """Turns Slack payloads into core calls and core replies into Slack messages."""

    def __init__(
        self,
        runner: CommandRunner,
        *,
        admins: AdminDirectory,
        hints: InviteHints,
        replies: ResponseUrls,
        ack_budget: float = ACK_BUDGET,
    ) -> None:
        self.runner = runner
        self.ack_budget = ack_budget
        self.admins = admins
        self.hints = hints
        self.replies = replies
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)
        app.action(APPROVE_ACTION)(self.on_click)
        app.action(REREQUEST_ACTION)(self.on_click)
        app.action(REQUEST_APPROVE)(self.on_click)
        app.action(REQUEST_CHOICE)(self.on_click)
        app.action(REQUEST_EDIT)(self.on_click)
        app.action(REQUEST_ANSWER)(self.on_click)
        app.action(REJECT_ACTION)(self.on_reject)
        app.action(REQUEST_REJECT)(self.on_reject)
        app.view(REASON_CALLBACK)(self.on_reason)
        app.view(FORM_CALLBACK)(self.on_form)
        for callback_id in SHORTCUTS:
            app.shortcut(callback_id)(self.on_shortcut)
        app.event("app_home_opened")(self.on_home_opened)

    # -- listeners: ack within Slack's budget, the rest in a task -------------------------------

    async def on_command(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        """Ephemeral answers ready within the budget ride in the ack; the rest follow it."""
        answer = self._start(self._guarded(self._command(body, client)))
        done, _ = await asyncio.wait({answer}, timeout=self.ack_budget)
        reply = answer.result() if done else None
        if not done or (reply is not None and not reply.ephemeral):
            await ack()
            self._start(self._deliver(answer, body.get("response_url")))
        elif reply is None:  # a redelivery, answered the first time
            await ack()
        else:
            await ack(message_body(reply))

    async def on_home_opened(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        """The Home tab opened: publish it now (and remember the viewer for republishes)."""
        await ack()
        event = body.get("event") or {}
        if event.get("tab") == "home" and event.get("user"):
            self._start(self._guarded(self._home(body, client, str(event["user"]))))

    async def _home(self, body: Body, client: AsyncWebClient, user_id: str) -> None:
        actor = await self._actor(client, _team_of(body), user_id)
        home = await self.runner.services.home.opened(actor)
        await client.views_publish(user_id=user_id, view=home_view(home))

    async def on_click(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        self._spawn(self._click(body, client), body.get("response_url"))

    async def on_shortcut(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        """A start shortcut (on a message, or global) opens the start form."""
        await ack()
        self._spawn(self._open_start(body, client), body.get("response_url"))

    async def on_reject(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        self._spawn(self._open_reason(body, client), body.get("response_url"))

    async def on_reason(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()  # closes the modal; the outcome goes to the original click's response_url
        metadata = _metadata(body, "a Reject dialog")
        if metadata is not None:
            self._spawn(self._reason(body, metadata, client), metadata.get("response_url"))

    async def on_form(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        """A submitted request form: refused input keeps the modal open with the reason under
        its field (when the answer is ready within the ack budget); the outcome goes to the
        click's response_url."""
        metadata = _metadata(body, "a request form")
        if metadata is None:
            await ack()
            return
        values = submitted_values(body["view"])
        answer = self._start(self._guarded(self._submit(body, metadata, values, client)))
        done, _ = await asyncio.wait({answer}, timeout=self.ack_budget)
        reply = answer.result() if done else None
        errors = field_errors(reply, values) if reply is not None else None
        if errors is not None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        self._start(self._deliver(answer, metadata.get("response_url")))

    # -- the work ------------------------------------------------------------------------------

    async def _command(self, body: Body, client: AsyncWebClient) -> Reply | None:
        team = _team_of(body)
        chat = ChatRef(PLATFORM, workspace_of(team), str(body["channel_id"]))
        self.hints.remember(chat.workspace, chat.channel_id, body.get("response_url"))
        actor = await self._actor(client, team, str(body["user_id"]))
        key = f"slack:command:{body['trigger_id']}"
        reply = await self.runner.run(actor, chat, str(body.get("text") or ""), delivery_key=key)
        if reply is None or reply.form is None or reply.form.action_id != START_ACTION:
            return reply
        modal = start_modal(body, channel_id=chat.channel_id, form=reply.form)
        await client.views_open(trigger_id=body["trigger_id"], view=modal)
        return None  # the form is the answer

    async def _open_start(self, body: Body, client: AsyncWebClient) -> Reply | None:
        modal = start_modal(body, channel_id=_channel_of(body))
        await client.views_open(trigger_id=body["trigger_id"], view=modal)
        return None  # the form is the answer

    async def _click(self, body: Body, client: AsyncWebClient) -> Reply | None:
        team = _team_of(body)
        chat = ChatRef(PLATFORM, workspace_of(team), _channel_of(body))
        action = body["actions"][0]
        actor = await self._actor(client, team, str(body["user"]["id"]))
        key = f"slack:action:{body['trigger_id']}"
        reply = await self.runner.click(
            actor, chat, str(action["action_id"]), str(action.get("value") or ""), delivery_key=key
        )
        if reply is None or reply.form is None:
            return reply
        metadata = {
            "action_id": reply.form.action_id,
            "value": reply.form.value,
            "channel_id": chat.channel_id,
            "response_url": str(body.get("response_url") or ""),
        }
        await client.views_open(
            trigger_id=body["trigger_id"], view=form_modal(reply.form, metadata)
        )
        return None  # the form is the answer

    async def _submit(
        self, body: Body, metadata: dict[str, str], values: dict[str, str], client: AsyncWebClient
    ) -> Reply | None:
        team = _team_of(body)
        chat = ChatRef(PLATFORM, workspace_of(team), metadata.get("channel_id", ""))
        actor = await self._actor(client, team, str(body["user"]["id"]))
        # every submit is its own delivery (a refused one leaves the form open to submit again)
        key = (
            f"slack:form:{body['view']['id']}:{body.get('trigger_id') or body['view'].get('hash')}"
        )
        action_id = metadata.get("action_id", "")
        if action_id == START_ACTION:
            source = submitted_source(metadata)
            return await self.runner.start_form(
                actor, chat, values, source=source, delivery_key=key
            )
        if action_id not in (REQUEST_APPROVE, REQUEST_EDIT, REQUEST_ANSWER):
            action_id = "unknown"
        form = FormInput.of(values)
        return await self.runner.click(
            actor, chat, action_id, metadata.get("value", ""), form=form, delivery_key=key
        )

    async def _open_reason(self, body: Body, client: AsyncWebClient) -> Reply | None:
        action = body["actions"][0]
        metadata = {
            "plan_id": str(action.get("value") or ""),
            "action_id": str(action.get("action_id") or REJECT_ACTION),
            "channel_id": _channel_of(body),
            "response_url": str(body.get("response_url") or ""),
        }
        title = str((body.get("message") or {}).get("text") or "this plan")
        modal = reason_modal(plan_title=title, metadata=metadata)
        await client.views_open(trigger_id=body["trigger_id"], view=modal)
        return None  # the modal is the answer

    async def _reason(
        self, body: Body, metadata: dict[str, str], client: AsyncWebClient
    ) -> Reply | None:
        team = _team_of(body)
        chat = ChatRef(PLATFORM, workspace_of(team), metadata.get("channel_id", ""))
        actor = await self._actor(client, team, str(body["user"]["id"]))
        # Forms opened before requests existed carry no action: they reject a plan.
        action_id = metadata.get("action_id", REJECT_ACTION)
        return await self.runner.click(
            actor,
            chat,
            action_id if action_id in (REJECT_ACTION, REQUEST_REJECT) else REJECT_ACTION,
            metadata.get("plan_id", ""),
            form=FormInput(reason=submitted_reason(body["view"])),
            delivery_key=f"slack:view:{body['view']['id']}",
        )

    async def _actor(self, client: AsyncWebClient, team: str, user_id: str) -> Actor:
        admin = await self.admins.is_admin(client, team, user_id)
        return Actor(workspace_of(team), user_id, Source.SLACK, platform_admin=admin)

    # -- task bookkeeping ----------------------------------------------------------------------

    def _spawn(self, work: Awaitable[Reply | None], response_url: str | None) -> None:
        """Answer a payload later: run its work, then post the reply to its response_url."""
        self._start(self._deliver(self._guarded(work), response_url))

    def _start(self, work: Awaitable[T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, work: Awaitable[Reply | None]) -> Reply | None:
        """Run listener work; an unexpected failure is logged and becomes the reply."""
        try:
            return await work
        except Exception:
            ref = secrets.token_hex(3)
            _log.exception("Slack listener failed (ref %s)", ref)
            return Reply(error_view(f"Something went wrong (ref {ref})."))

    async def _deliver(self, answer: Awaitable[Reply | None], response_url: str | None) -> None:
        """Post a (guarded) answer to the response_url; a failed post is only logged."""
        reply = await answer
        try:
            await self.replies.reply(response_url, reply)
        except Exception as exc:  # the URL itself is a credential: log only what went wrong
            _log.warning("could not post a reply to a response_url: %s", exc.__class__.__name__)

    async def idle(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - bounded by design
        """Wait (bounded) until no listener work is in flight; False if time ran out."""
        try:
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await asyncio.wait(set(self._tasks))
        except TimeoutError:
            return False
        return True

    async def cancel(self) -> None:
        """Cancel the listener work still in flight and wait until it has ended."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
