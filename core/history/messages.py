"""HistoryService: a session's conversation — append, page, fetch, thread, edit and delete."""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from core.activity import coalescing_window
from core.errors import LimitExceeded, NotFound, UsageError
from core.history.access import is_workspace_admin, require_perm
from core.history.summary import ExtractiveSummarizer, Summarizer
from core.models import JSON, OPEN_STATUSES, Actor, Event, EventType, Role, Session, Status, new_id
from core.permissions import Perm, require
from core.records.history import Message, MessageRole
from core.service import SessionService
from core.states import Action, next_status
from core.store import ops
from core.store.codec import dumps

_log = logging.getLogger(__name__)

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Limits of the history feature; a deployment may pass its own."""

    max_message_bytes: int = 64 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_context_bytes: int = 256 * 1024
    page_size: int = PAGE_SIZE


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


class HistoryService:
    """Conversation history of sessions, on top of the SessionService (its store and rules)."""

    def __init__(
        self,
        service: SessionService,
        *,
        config: HistoryConfig | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.clock = service.clock
        self.config = config or HistoryConfig()
        self.summarizer: Summarizer = summarizer or ExtractiveSummarizer()

    async def find(self, actor: Actor, ref: str | None, channel_id: str | None = None) -> Session:
        return await self.service.find(actor, ref, channel_id=channel_id)

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
        settings = await self.service.settings(actor.workspace)
        admin = await is_workspace_admin(self.service, actor)

        def check(facts: ops.SessionFacts) -> None:
            next_status(Status(facts.status), Action.NOTE, ref=facts.ref)
            roles = {Role.OWNER} if facts.owner_id == actor.user_id else set()
            if facts.member_role:
                roles.add(Role(facts.member_role))
            require(Perm.WORK, admin=admin, roles=roles)

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
            check,
            touch_after=coalescing_window(self.service.config.touch_every, settings.abandon_after),
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
        await require_perm(self.service, actor, session, Perm.WORK)
        message = await self._get(session, seq)
        if message.author_id != actor.user_id:
            await require_perm(self.service, actor, session, Perm.MANAGE)
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
        await require_perm(self.service, actor, session, Perm.MANAGE)
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
        event = Event(
            new_id(),
            session.id,
            0,
            EventType.MESSAGE,
            actor.user_id,
            actor.source,
            data,
            self.clock.now(),
        )
        return ops.AddEvent(event)

    async def _activity(self, session: Session) -> ops.Touch:
        now = self.clock.now()
        deadline = None
        if session.status in OPEN_STATUSES:
            deadline = now + (await self.service.settings(session.workspace)).abandon_after
        return ops.Touch(session.id, now, deadline)

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


_ATTACHED: weakref.WeakKeyDictionary[SessionService, HistoryService] = weakref.WeakKeyDictionary()


def attach(history: HistoryService) -> HistoryService:
    """Make `history` the one the `/session` commands use for its SessionService."""
    _ATTACHED[history.service] = history
    return history


def history_for(service: SessionService) -> HistoryService:
    """The HistoryService attached to `service` (a default one on first use)."""
    found = _ATTACHED.get(service)
    return found if found is not None else attach(HistoryService(service))


__all__ = [
    "HistoryConfig",
    "HistoryService",
    "MessagePage",
    "NumberedPage",
    "attach",
    "history_for",
]
