"""Fork (§5): a new session with the parent's history up to a message; the parent is untouched."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import cards, notices
from core.errors import NotFound
from core.models import Actor, Event, EventType, Member, Role, Session, Status, new_id
from core.permissions import Perm
from core.store import ops

if TYPE_CHECKING:
    from core.history.messages import HistoryService

_log = logging.getLogger(__name__)

MAX_TITLE = 200
SUFFIX = " (fork)"


@dataclass(slots=True)
class ForkResult:
    session: Session
    parent: Session
    at_seq: int


def _title(parent: Session) -> str:
    return parent.title[: MAX_TITLE - len(SUFFIX)] + SUFFIX


async def fork(
    history: HistoryService,
    actor: Actor,
    ref: str | None,
    *,
    at: int | None = None,
    channel_id: str | None = None,
) -> ForkResult:
    """Copy `ref`'s history up to message `at` (default: the latest) into a new session owned
    by the actor (owner, editor or admin of the parent), in the caller's channel."""
    parent = await history.find(actor, ref, channel_id)
    await history.access.require(actor, parent, Perm.WORK)
    last_seq = await history.store.history.last_seq(parent.id)
    at_seq = last_seq if at is None else at
    if at_seq > last_seq or at_seq < 0:
        raise NotFound("message", f"{at_seq} in session #{parent.ref} (it has {last_seq})")
    anchor = await history.store.history.message(parent.id, seq=at_seq) if at_seq else None
    now = history.clock.now()
    settings = await history.settings.get(actor.workspace)
    child = Session(
        id=new_id(),
        ref=0,
        workspace=actor.workspace,
        channel_id=channel_id or parent.channel_id,
        owner_id=actor.user_id,
        title=_title(parent),
        mode=parent.mode,
        status=Status.ACTIVE,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        abandon_at=now + settings.abandon_after,
        context=dict(parent.context),
        metadata=dict(parent.metadata),
        max_iterations=parent.max_iterations,
        parent_id=parent.id,
        forked_from_message_id=anchor.id if anchor else None,
    )

    def event(kind: EventType, data: dict[str, object]) -> ops.AddEvent:
        return ops.AddEvent(
            Event(new_id(), child.id, 0, kind, actor.user_id, actor.source, data, now)
        )

    def build(ref_number: int) -> list[ops.Op]:
        born = dataclasses.replace(child, ref=ref_number)
        card = cards.session_card(born, [], None, now=now, lineage=[parent])
        return [
            ops.NewSession(born, (Member(actor.user_id, Role.OWNER, actor.user_id, now),)),
            event(EventType.CREATED, {"title": born.title}),
            event(
                EventType.FORKED,
                {"parent_id": parent.id, "parent_ref": parent.ref, "at_seq": at_seq},
            ),
            notices.card(born, card, now=now),
        ]

    child.ref = await history.store.history.fork(
        actor.workspace, build, parent_id=parent.id, child_id=child.id, up_to_seq=at_seq
    )
    _log.info("session %s forked from %s at message %s", child.id, parent.id, at_seq)
    return ForkResult(child, parent, at_seq)
