"""The resume reply (§2): the session card with its context bundle, for `/session resume`."""

from __future__ import annotations

from core.history import cards
from core.history.context import bundle_of
from core.history.messages import HistoryService
from core.models import Actor, Session
from core.views import View


async def resume_view(history: HistoryService, actor: Actor, session: Session) -> View:
    """The card of a just-resumed `session`: context, plan, last 10 events, last 20 messages."""
    bundle = await bundle_of(history, session)
    members = await history.store.sessions.members(session.id)
    return cards.resumed(bundle, members, actor.user_id, now=history.clock.now())
