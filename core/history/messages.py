"""HistoryService: a session's conversation — append, page, fetch, thread, edit and delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from core.access import Access
from core.clock import Clock
from core.errors import LimitExceeded, NotFound, UsageError
from core.history.summary import ExtractiveSummarizer, Summarizer
from core.models import JSON, Actor, EventType, Session, new_id
from core.permissions import Perm
from core.records.history import Message, MessageRole
from core.services.config import HistoryConfig
from core.services.sessions import Lifecycle
from core.settings import Settings
from core.states import Action
from core.store import ops
from core.store.codec import dumps
from core.store.store import Store
from core.units import Units

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class MessagePage:
    """Newest first; `next_before` is the cursor for the next (older) page, None at the end."""

    session: Session
    messages: list[Message]
    next_before: int | None
    last_seq: int


@dataclass(slots=True)
class NumberedPage:
    """A page by number for chat (`history page:2`), built on the seq cursor."""

    session: Session
    messages: list[Message]
    page: int
    pages: int


@dataclass(slots=True)
class HistoryService:
    """Conversation history of sessions: their messages, context, exports, forks and imports."""

    store: Store
    clock: Clock
    settings: Settings
    access: Access
    units: Units
    sessions: Lifecycle
    config: HistoryConfig = field(default_factory=HistoryConfig)
    summarizer: Summarizer = field(default_factory=ExtractiveSummarizer)

    async def find(self, actor: Actor, ref: str | None, channel_id: str | None = None) -> Session:
        return await self.sessions.find(actor, ref, channel_id=channel_id)

    # -- writes ------------------------------------------------------------------------------

    async def append(
        self,
        actor: Actor,
        ref: str | None,
        text: str,
        *,
        role: MessageRole = MessageRole.USER,
        parent_id: str | None = None,
        metadata: JSON | None = None,
        channel_id: str | None = None,
    ) -> Message:
        """Append a message (owner, editor or admin); returns it with its seq."""
        self._check_text(text)
        metadata = metadata or {}
        if len(dumps(metadata).encode()) > self.config.max_metadata_bytes:
            raise LimitExceeded(
                "The message metadata", f"{self.config.max_metadata_bytes:,}", unit=" bytes"
            )
        if ref is None:
            ref = (await self.find(actor, None, channel_id)).id
        settings = await self.settings.get(actor.workspace)
        draft = Message(
            id=new_id(),
            session_id="",
            seq=0,
            role=role,
            author_id=actor.user_id,
            content=text,
            created_at=self.clock.now(),
            parent_id=parent_id,
            metadata=metadata,
        )
        return await self.store.history.append(
            actor.workspace,
            ref.lstrip("#").lower(),
            draft,
            await self.access.checker(actor, Action.NOTE),
            touch_after=await self.units.touch_window(actor.workspace),
            abandon_after=settings.abandon_after,
        )

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise UsageError("The message is empty.")
        size = len(text.encode())
        if size > self.config.max_message_bytes:
            raise LimitExceeded(
                f"The message ({size:,} bytes)", f"{self.config.max_message_bytes:,}", unit=" bytes"
            )

    async def edit(self, actor: Actor, ref: str | None, seq: int, text: str) -> Message:
        """Replace a message's text; the old text is kept as a revision.

        Authors edit their own messages (with owner, editor or admin rights); the owner and
        admins edit any message.
        """
        self._check_text(text)
        session = await self.find(actor, ref)
        await self.access.require(actor, session, Perm.WORK)
        message = await self._get(session, seq)
        if message.author_id != actor.user_id:
            await self.access.require(actor, session, Perm.MANAGE)
        data = {"action": "edited", "seq": seq, "message_id": message.id}
        return await self.store.history.edit(
            session.id,
            seq,
            text,
            by=actor.user_id,
            at=self.clock.now(),
            extra=[self._event(session, actor, data), await self._activity(session)],
        )

    async def delete(self, actor: Actor, ref: str | None, seq: int) -> Message:
        """Delete a message (owner or admin): its text goes, a tombstone event stays."""
        session = await self.find(actor, ref)
        await self.access.require(actor, session, Perm.MANAGE)
        message = await self._get(session, seq)
        data = {"action": "deleted", "seq": seq, "message_id": message.id}
        deleted = await self.store.history.delete(
            session.id,
            seq,
            by=actor.user_id,
            at=self.clock.now(),
            extra=[self._event(session, actor, data), await self._activity(session)],
        )
        _log.info("message %s of session %s deleted by %s", seq, session.id, actor.user_id)
        return deleted

    def _event(self, session: Session, actor: Actor, data: dict[str, Any]) -> ops.AddEvent:
        return self.units.event(session, EventType.MESSAGE, actor, data)

    async def _activity(self, session: Session) -> ops.Touch:
        return await self.units.touch(session, self.clock.now())

    # -- reads -------------------------------------------------------------------------------

    async def page(
        self,
        actor: Actor,
        ref: str | None,
        *,
        before: int | None = None,
        limit: int | None = None,
        channel_id: str | None = None,
    ) -> MessagePage:
        """One page, newest first, older than the cursor `before` (a seq) when given."""
        size = limit or self.config.page_size
        if not 1 <= size <= 500:
            raise UsageError("A page holds 1 to 500 messages.")
        session = await self.find(actor, ref, channel_id)
        messages = await self.store.history.before(session.id, before_seq=before, limit=size)
        last_seq = await self.store.history.last_seq(session.id)
        more = bool(messages) and messages[-1].seq > 1
        return MessagePage(session, messages, messages[-1].seq if more else None, last_seq)

    async def numbered_page(
        self, actor: Actor, ref: str | None, page: int = 1, *, channel_id: str | None = None
    ) -> NumberedPage:
        """Page `page` (1 = newest) for chat; seqs are gap-free, so the page is a seq range."""
        session = await self.find(actor, ref, channel_id)
        size = self.config.page_size
        last_seq = await self.store.history.last_seq(session.id)
        pages = max(1, -(-last_seq // size))
        if page > pages:
            raise UsageError(f"There is no page {page}; session #{session.ref} has {pages}.")
        before = last_seq - size * (page - 1) + 1
        messages = await self.store.history.before(session.id, before_seq=before, limit=size)
        return NumberedPage(session, messages, page, pages)

    async def get(self, actor: Actor, ref: str | None, seq: int) -> tuple[Session, Message]:
        """One message by seq, with its revisions."""
        session = await self.find(actor, ref)
        return session, await self._get(session, seq)

    async def _get(self, session: Session, seq: int) -> Message:
        message = await self.store.history.message(session.id, seq=seq)
        if message is None:
            raise NotFound("message", f"{seq} in session #{session.ref}")
        return message

    async def thread(self, actor: Actor, ref: str | None, seq: int) -> list[Message]:
        """A message and all replies under it (by parent_id), in seq order."""
        session, root = await self.get(actor, ref, seq)
        return await self.store.history.thread(session.id, root.id)


__all__ = [
    "HistoryConfig",
    "HistoryService",
    "MessagePage",
    "NumberedPage",
]
