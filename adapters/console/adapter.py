"""The console adapter (§10): a REPL speaking the `/session` grammar, and its outbox delivery."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from adapters.console.render import form_text, render
from core.cards import error_view
from core.errors import UsageError
from core.forms import typed
from core.models import Actor, ChatRef, Source
from core.outbox import OutboxDispatcher
from core.request_cards import REQUEST_EDIT
from core.runner import CommandRunner
from core.start_form import START_ACTION
from core.users import console_user
from core.views import Button, Reply, View

WORKSPACE = "console:local"
PROMPT = "sessionbot> "


@dataclass(slots=True)
class ConsoleScreen:
    """The terminal: prints views and remembers which number clicks which button."""

    out: TextIO
    buttons: dict[int, Button] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def last(self, action_id: str) -> int | None:
        """The number of the most recently shown button with this action, if any."""
        return max((n for n, b in self.buttons.items() if b.action_id == action_id), default=None)

    def show(self, view: View, *, prefix: str = "") -> None:
        numbers = [next(self._numbers) for _ in view.buttons]
        self.buttons.update(zip(numbers, view.buttons, strict=True))
        body = render(view, numbers)
        if prefix:
            body = "\n".join(prefix + line for line in body.splitlines())
        self.out.write(body + "\n")
        self.out.flush()


class ConsoleDelivery:
    """Delivers outbox notifications by printing them."""

    platform = "console"

    def __init__(self, screen: ConsoleScreen) -> None:
        self.screen = screen
        self._ids = itertools.count(1)

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        where = f"#{channel_id} ↳ thread {thread_ref}" if thread_ref else f"#{channel_id}"
        message_ref = f"m{next(self._ids)}"
        self.screen.show(view, prefix=f"[{where}] ")
        return message_ref

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        self.screen.show(view, prefix=f"[#{channel_id} ✎ {message_ref}] ")

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        self.screen.show(view, prefix=f"[DM @{user_id}] ")
        return f"dm{next(self._ids)}"


class ConsoleAdapter:
    """Reads command lines, runs them as the chosen user, prints replies and notifications."""

    def __init__(
        self,
        runner: CommandRunner,
        dispatcher: OutboxDispatcher,
        screen: ConsoleScreen,
        *,
        user: str = "you",
        channel: str = "general",
        admins: frozenset[str] = frozenset({"you"}),
    ) -> None:
        self.runner = runner
        self.dispatcher = dispatcher
        self.screen = screen
        self.user = console_user(user)  # a UsageError for a name no console user has
        self.chat = ChatRef("console", WORKSPACE, channel)
        self.admins = {admin.lower() for admin in admins} | {self.user}
        self.lock = asyncio.Lock()

    def actor(self, user_id: str) -> Actor:
        return Actor(WORKSPACE, user_id, Source.CONSOLE, platform_admin=user_id in self.admins)

    async def handle(self, line: str) -> None:
        """Run one input line: `[@user] [/session] command …`, `[@user] !N [text…]` (a click,
        with what its form would take), or `[@user] !edit {json}` (the latest Edit button)."""
        line = line.strip()
        if not line or line.startswith("#!"):
            return
        user = self.user
        if line.startswith("@"):
            name, _, line = line.partition(" ")
            line = line.strip()
            try:
                user = console_user(name) if name[1:] else self.user
            except UsageError as exc:
                self.screen.show(error_view(exc.message))
                return
        async with self.lock:
            reply = await self._run(self.actor(user), line)
            if reply is not None:
                self.screen.show(reply.view)
            # the start form has no button to type after: its view says what to type instead
            if (
                reply is not None
                and reply.form is not None
                and reply.form.action_id != START_ACTION
            ):
                self.screen.out.write(form_text(reply.form, self._number_of(line)) + "\n")
                self.screen.out.flush()
            await self.dispatcher.drain(webhooks=False)  # a slow receiver never holds the prompt

    async def _run(self, actor: Actor, line: str) -> Reply | None:
        if line.startswith("!"):
            _, _, text = line.partition(" ")
            number = self._number_of(line)
            button = self.screen.buttons.get(number)
            if button is None:
                known = ", ".join(f"!{n}" for n in sorted(self.screen.buttons)[-6:]) or "none yet"
                return Reply(
                    error_view(f"No button {line.split()[0]} on screen (buttons: {known}).")
                )
            form = typed(button.action_id, text)
            return await self.runner.click(
                actor, self.chat, button.action_id, button.value, form=form
            )
        return await self.runner.run(actor, self.chat, line)

    def _number_of(self, line: str) -> int:
        """The button a `!N …` or `!edit …` line clicks (0: none)."""
        head = line[1:].split(" ", 1)[0]
        if head.lower() == "edit":
            return self.screen.last(REQUEST_EDIT) or 0
        return int(head) if head.isdigit() else 0

    async def repl(self, read_line: Callable[[], str] | None = None, *, interactive: bool) -> None:
        """Read until end of input (or `quit`), then deliver what is still pending."""
        reader = read_line or sys.stdin.readline
        while True:
            if interactive:
                self.screen.out.write(PROMPT)
                self.screen.out.flush()
            line = await asyncio.to_thread(reader)
            if not line or line.strip() in ("quit", "exit"):
                break
            await self.handle(line)
        async with self.lock:
            await self.dispatcher.drain()
