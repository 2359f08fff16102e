"""Fork: a new session with the parent's history up to a message; the parent is untouched."""

from __future__ import annotations

import pytest

from core.errors import Forbidden, NotFound
from core.history import context
from core.history.fork import fork
from core.history.messages import HistoryService
from core.history.search import search
from core.models import EventType, Role, Session, Status
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("olga")


@pytest.fixture
def history(services: Services) -> HistoryService:
    return services.history


@pytest.fixture
async def parent(history: HistoryService, services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, "Investigate latency", mode="incident")
    await services.members.share(OWNER, s.id, "eddie", role=Role.EDITOR)
    await services.members.share(OWNER, s.id, "vera", role=Role.VIEWER)
    root = await history.append(OWNER, s.id, "p99 is 900ms")
    await history.append(OWNER, s.id, "suspect the cache", parent_id=root.id)
    await history.edit(OWNER, s.id, 2, "suspect the redis cache")
    await history.append(OWNER, s.id, "cache is fine")
    await history.append(OWNER, s.id, "it was the DNS")
    await history.append(OWNER, s.id, "fixed")
    await context.update(history, OWNER, s.id, {"service": "api"})
    found = await services.store.sessions.by_id(s.id)
    assert found is not None
    return found


async def test_fork_copies_history_up_to_a_message_and_leaves_the_parent_alone(
    history: HistoryService, services: Services, parent: Session
):
    store = history.store
    before_messages = await store.history.after(parent.id, after_seq=0, limit=100)
    before_events = await count(store, "events", "session_id = ?", parent.id)  # type: ignore[arg-type]
    result = await fork(history, actor("eddie"), str(parent.ref), at=3, channel_id="war-room")
    child = result.session
    assert (child.ref, child.parent_id, child.owner_id) == (2, parent.id, "eddie")
    assert child.status is Status.ACTIVE and child.channel_id == "war-room"
    assert child.title == "Investigate latency (fork)" and child.mode == "incident"
    assert child.forked_from_message_id == before_messages[2].id
    copied = await store.history.after(child.id, after_seq=0, limit=100)
    assert [m.content for m in copied] == [m.content for m in before_messages[:3]]
    assert not {m.id for m in copied} & {m.id for m in before_messages}, "copies get new ids"
    assert copied[1].parent_id == copied[0].id, "threads follow the copies"
    edited = await store.history.message(child.id, seq=2)
    assert edited is not None and [r.content for r in edited.revisions] == ["suspect the cache"]
    assert (await context.read(history, OWNER, child.id)).context == {"service": "api"}
    events = await store.events.newest(child.id, limit=10)
    assert [e.type for e in reversed(events)] == [EventType.CREATED, EventType.FORKED]
    assert events[0].data == {"parent_id": parent.id, "parent_ref": parent.ref, "at_seq": 3}
    after = await store.sessions.by_id(parent.id)
    assert after is not None and after.version == parent.version
    assert await store.history.after(parent.id, after_seq=0, limit=100) == before_messages
    assert await count(store, "events", "session_id = ?", parent.id) == before_events  # type: ignore[arg-type]
    detail = await services.sessions.show(OWNER, child.id)
    assert [s.id for s in detail.lineage] == [parent.id]


async def test_fork_without_at_copies_everything_and_copies_are_searchable(
    history: HistoryService, parent: Session
):
    result = await fork(history, OWNER, parent.id)
    assert result.at_seq == 5
    found = await search(history, OWNER, "DNS")
    assert sorted(h.session_ref for h in found.hits) == [1, 2]


async def test_fork_refusals(history: HistoryService, parent: Session):
    with pytest.raises(NotFound, match="6 in session #1"):
        await fork(history, OWNER, parent.id, at=6)
    for refused in ("vera", "mallory"):
        with pytest.raises(Forbidden):
            await fork(history, actor(refused), parent.id)
    assert await count(history.store, "sessions") == 1  # type: ignore[arg-type]
