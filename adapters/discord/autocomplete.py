"""Autocomplete for ref options (the guild's recent sessions that match what was typed) and for
the request id of `/session agent answer` (the questions waiting for this member)."""

from __future__ import annotations

from discord import app_commands

from adapters.discord.embeds import clip
from core.commands import COMMANDS
from core.errors import SessionBotError
from core.models import Actor, Session
from core.records.requests import RequestKind
from core.wiring import Services

MAX_CHOICES = 25  # Discord rejects more
NAME_MAX = 100
SCAN = 100  # most recently active sessions searched by title


def choice_name(session: Session) -> str:
    """`#42 · title · status`, the title shortened so the whole fits in 100 characters."""
    head, tail = f"#{session.ref} · ", f" · {session.status.value}"
    room = NAME_MAX - len(head) - len(tail)
    title = " ".join(session.title.split()) or "untitled"
    if len(title) > room:
        title = title[: room - 1] + "…"
    return head + title + tail


def rank(sessions: list[Session], typed: str) -> list[Session]:
    """Exact ref first, then refs starting with the digits, then title matches; each by recency."""
    typed = typed.strip().lstrip("#").lower()
    if not typed:
        return sessions
    exact = [s for s in sessions if str(s.ref) == typed or s.id == typed]
    prefix = [s for s in sessions if str(s.ref).startswith(typed) and s not in exact]
    titled = [s for s in sessions if typed in s.title.lower() and s not in exact + prefix]
    return exact + prefix + titled


class RefChoices:
    """Builds the ref choices for one member of one guild."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def choices(self, actor: Actor, typed: str) -> list[app_commands.Choice[str]]:
        listing = await self.services.sessions.list_sessions(actor, filter="all", page_size=SCAN)
        found = rank(listing.sessions, typed)
        wanted = typed.strip().lstrip("#")
        if wanted.isdigit() and not any(str(s.ref) == wanted for s in found):
            found = [*await self._exact(actor, wanted), *found]
        return [
            app_commands.Choice(name=choice_name(s), value=str(s.ref)) for s in found[:MAX_CHOICES]
        ]

    async def _exact(self, actor: Actor, ref: str) -> list[Session]:
        """An older session named by its exact ref (beyond the recent ones scanned)."""
        try:
            return [await self.services.sessions.find(actor, ref)]
        except SessionBotError:
            return []


class QuestionChoices:
    """The request option of `/session agent answer`: the pending questions this member may
    answer, matched by id or text (their id is the value; nobody types a UUID)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def choices(self, actor: Actor, typed: str) -> list[app_commands.Choice[str]]:
        found, _ = await self.services.requests.waiting_for(actor, limit=SCAN)
        typed = typed.strip().lower()
        return [
            app_commands.Choice(
                name=clip(f"#{s.ref} · {' '.join(r.question.split())}", NAME_MAX), value=r.id
            )
            for s, r in found
            if r.kind is RequestKind.QUESTION
            and (r.id.startswith(typed) or typed in r.question.lower())
        ][:MAX_CHOICES]


def command_choices(typed: str) -> list[app_commands.Choice[str]]:
    """Command names for `/session help`, those starting with the text first."""
    typed = typed.strip().lower()
    names = sorted(COMMANDS, key=lambda n: (not n.startswith(typed), n))
    return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:MAX_CHOICES]
