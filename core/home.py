"""A person's Slack App Home as neutral data: what waits for their decision (the web inbox's
own query, with the same buttons as the channel messages), their open sessions and the ones
that ended lately. Adapters render it (adapters/slack/home.py); the outbox republishes it
(kind `home`, coalesced per person by core/store/homes.py) when a change concerns them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from core import cards, request_cards
from core.clock import Clock
from core.models import Actor, Session, Source
from core.services.web_pages import InboxItem, WebReads
from core.store.store import Store
from core.users import platform_of
from core.views import View

WAITING_SHOWN = 8  # items with their buttons (two blocks each)
SESSIONS_SHOWN = 10
SESSIONS_COUNTED = 200  # open sessions read to say how many more there are
FINISHED_SHOWN = 5
PLATFORM_ADMIN_TRUST = timedelta(minutes=10)  # as long as Slack's admin lookup is cached


@dataclass(slots=True)
class HomeView:
    """What a Home shows: `waiting` holds each item's channel message (title, text, buttons);
    the `*_more` counts say how many were left out."""

    user_id: str
    now: datetime
    waiting: list[tuple[Session, View]] = field(default_factory=list)
    waiting_more: int = 0
    open_sessions: list[Session] = field(default_factory=list)
    open_more: int = 0
    finished: list[Session] = field(default_factory=list)


@runtime_checkable
class HomeDelivery(Protocol):
    """A chat delivery that can publish a Home (Slack's views.publish)."""

    async def publish_home(self, workspace: str, user_id: str, home: HomeView) -> None: ...


HomeLookup = Callable[[str, str], Awaitable[HomeView | None]]


@dataclass(slots=True)
class HomeService:
    """Builds Homes and records who opened theirs (only they are republished)."""

    store: Store
    clock: Clock
    reads: WebReads

    async def opened(self, actor: Actor) -> HomeView:
        """`actor` opened their Home: remember it, and what it shows now."""
        admin = await self.reads.access.is_admin(actor)
        await self.store.homes.opened(
            actor.workspace, actor.user_id, admin=admin, at=self.clock.now()
        )
        return await self.view(actor)

    async def of(self, workspace: str, user_id: str) -> HomeView | None:
        """The Home of someone who opened it (None for anyone else: nothing to publish)."""
        viewer = await self.store.homes.viewer(workspace, user_id)
        if viewer is None:
            return None
        # a platform admin seen at the last opening counts as one for as long as the adapter
        # trusts its own lookup; later republishes show only what the person may decide anyway
        admin = viewer[0] and self.clock.now() - viewer[1] <= PLATFORM_ADMIN_TRUST
        source = Source(platform_of(workspace))
        return await self.view(Actor(workspace, user_id, source, platform_admin=admin))

    async def view(self, actor: Actor) -> HomeView:
        inbox = await self.reads.inbox(actor)
        mine = await self.store.homes.sessions(
            actor.workspace, actor.user_id, open_=True, limit=SESSIONS_COUNTED
        )
        ended = await self.store.homes.sessions(
            actor.workspace, actor.user_id, open_=False, limit=FINISHED_SHOWN
        )
        waiting = [(item.session, _message(item.session, item)) for item in inbox]
        return HomeView(
            actor.user_id,
            self.clock.now(),
            waiting[:WAITING_SHOWN],
            max(0, len(waiting) - WAITING_SHOWN),
            mine[:SESSIONS_SHOWN],
            max(0, len(mine) - SESSIONS_SHOWN),
            ended,
        )


async def publish(
    delivery: object, workspace: str, user_id: str, lookup: HomeLookup | None
) -> None:
    """Deliver a `home` outbox row: the Home as it is now (a stale row shows the present);
    settled unsent where there is no Home to publish."""
    if lookup is None or not isinstance(delivery, HomeDelivery):
        return
    if home := await lookup(workspace, user_id):
        await delivery.publish_home(workspace, user_id, home)


def _message(session: Session, item: InboxItem) -> View:
    if item.plan is not None:
        return cards.plan_message(session, item.plan)
    assert item.request is not None
    return request_cards.message(session, item.request)
