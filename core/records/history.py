"""The records of conversation history (§1 Message): plain dataclasses the store maps to rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.models import JSON, Event, Plan, Session


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


@dataclass(slots=True)
class Revision:
    """An earlier text of an edited message: what it said, when written, when replaced."""

    message_id: str
    revision: int
    content: str
    written_at: datetime
    replaced_at: datetime
    replaced_by: str


@dataclass(slots=True)
class Message:
    """One message of a session's conversation; `seq` is per session and gap-free."""

    id: str
    session_id: str
    seq: int
    role: MessageRole
    author_id: str
    content: str
    created_at: datetime
    parent_id: str | None = None
    metadata: JSON = field(default_factory=dict)
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    revisions: list[Revision] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(slots=True)
class SearchHit:
    """One ranked search result: where it is and a snippet with the match marked."""

    session_id: str
    session_ref: int
    session_title: str
    message_id: str
    seq: int
    role: MessageRole
    author_id: str
    created_at: datetime
    snippet: str


@dataclass(slots=True)
class ContextBundle:
    """What someone resuming a session needs: session, context, plan, recent events and talk."""

    session: Session
    context: JSON
    plan: Plan | None
    events: list[Event]
    messages: list[Message]


# Snippet match markers: private-use characters the search card turns into emphasis.
MATCH_START = "\ue000"
MATCH_END = "\ue001"
