"""The start form: `/session start` without a title, or a shortcut on a message, opens it.

One description of its fields (title, mode, max iterations, channel) for every platform, and
its submit checked field by field with the rules `/session start` typed in a line follows
(the grammar's, then the lifecycle's): a refusal names the field it is about and creates
nothing. A form started from a message is prefilled with its text, and the session joins that
message's thread instead of opening its own (the card and every notice go there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from core.commands import COMMANDS
from core.errors import UsageError
from core.forms import FieldError
from core.grammar import MAX_TITLE, build
from core.models import MAX_MODE, Actor, ChatRef, Session
from core.services.sessions import Lifecycle, checked_mode, checked_title
from core.settings import channel_ref
from core.views import Form, FormField, View

START_ACTION = "session_start"
TITLE, MODE, MAX, CHANNEL = "title", "mode", "max", "channel"
NO_LINK = "-"  # the form's value when it comes from no message
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """The message a session is started from: where it is, the thread the session joins
    (the platform's own reference: a Slack thread's ts, a Discord thread or `reply:<id>`)
    and its text."""

    channel_id: str
    thread_ref: str
    text: str = ""


def start_form(
    *,
    channel_id: str | None,
    source: SourceMessage | None = None,
    mode: str | None = None,
    max_iterations: int | None = None,
    value: str = NO_LINK,
) -> Form:
    """The form; from a message its channel is the message's (no channel field), else the
    channel field starts on `channel_id` (none: the user must choose). `value` is what the
    adapter needs back on submit to find the message again."""
    params = {p.name: p for p in COMMANDS["start"].params}
    title = " ".join((source.text if source else "").split())[:MAX_TITLE]
    fields = [
        FormField(TITLE, "Title", initial=title, placeholder=params["title"].help,
                  max_length=MAX_TITLE),
        FormField(MODE, "Mode", initial=mode or "", placeholder=params["mode"].help,
                  max_length=MAX_MODE, required=False),
        FormField(MAX, "Max iterations", initial=str(max_iterations or ""),
                  placeholder=params["max"].help, max_length=9, required=False),
    ]  # fmt: skip
    if source is None:
        fields.append(FormField(CHANNEL, "Channel", initial=channel_id or "", kind="channel"))
    text = "The session joins the thread of the message." if source else ""
    return Form(START_ACTION, value, "Start a session", "Start", tuple(fields), text)


def needs_title() -> View:
    """What a bare `/session start` answers where no form can open (the console)."""
    usage = COMMANDS["start"].usage.replace("[title…]", "<title…>")
    return View(kind="notice", title="A session needs a title", blocks=[f"`{usage}`"])


def _field(name: str, check: Callable[[], T]) -> T:
    """A field's checked value; any refusal becomes a FieldError naming the field."""
    try:
        return check()
    except FieldError:
        raise
    except UsageError as exc:
        raise FieldError(name, exc.reason) from None


def _title(text: str) -> str:
    return str(build("start", words=[text]).args.get(TITLE, ""))


def _option(key: str, text: str) -> object:
    return build("start", options={key: text}).args[key]


def _channel(chat: ChatRef, text: str) -> str:
    if text:
        return channel_ref(text)
    if not chat.channel_id:
        raise UsageError("Choose the channel the session lives in.")
    return chat.channel_id


async def start_from_form(
    sessions: Lifecycle,
    actor: Actor,
    chat: ChatRef,
    values: Mapping[str, str],
    *,
    source: SourceMessage | None = None,
) -> Session:
    """Check the submitted fields in form order, then start the session (in the source
    message's channel and thread when there is one)."""
    typed = {k: (values.get(k) or "").strip() for k in (TITLE, MODE, MAX, CHANNEL)}
    title = _field(TITLE, lambda: checked_title(_title(typed[TITLE])))
    mode = (
        _field(MODE, lambda: checked_mode(str(_option(MODE, typed[MODE])))) if typed[MODE] else None
    )
    maximum = _field(MAX, lambda: int(str(_option(MAX, typed[MAX])))) if typed[MAX] else None
    if source is not None:
        where = ChatRef(chat.platform, chat.workspace, source.channel_id, source.thread_ref)
    else:
        channel_id = _field(CHANNEL, lambda: _channel(chat, typed[CHANNEL]))
        where = ChatRef(chat.platform, chat.workspace, channel_id)
    return await sessions.start(
        actor, where, title, mode=mode, max_iterations=maximum, thread_ref=where.thread_ref
    )
