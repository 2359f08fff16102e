"""Messages on a real SQLite file: append, gap-free seq, cursor paging, edit, delete, threads."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Conflict, Forbidden, InvalidTransition, LimitExceeded, NotFound, UsageError
from core.history.messages import HistoryConfig, HistoryService
from core.models import EventType, Role, Session
from core.records.history import MessageRole
from core.wiring import Services, build_services
from tests.conftest import CHAT, OTHER_WS, actor, count

OWNER = actor("olga")


@pytest.fixture
def history(services: Services) -> HistoryService:
    return services.history


@pytest.fixture
async def session(services: Services) -> Session:
    started = await services.sessions.start(OWNER, CHAT, "Incident 42")
    await services.members.share(OWNER, str(started.ref), "eddie", role=Role.EDITOR)
    await services.members.share(OWNER, str(started.ref), "vera", role=Role.VIEWER)
    return started


async def fill(history: HistoryService, ref: str, n: int, *, start: int = 0) -> None:
    for base in range(start, start + n, 100):
        await asyncio.gather(
            *(
                history.append(OWNER, ref, f"message {i}")
                for i in range(base, min(base + 100, start + n))
            )
        )


async def test_concurrent_appends_get_gap_free_seqs(history: HistoryService, session: Session):
    made = await asyncio.gather(*(history.append(OWNER, session.id, f"m{i}") for i in range(60)))
    assert sorted(m.seq for m in made) == list(range(1, 61))
    assert {m.session_id for m in made} == {session.id}


async def test_paging_1000_messages_returns_each_once_in_order_while_appending(
    history: HistoryService, session: Session
):
    ref = str(session.ref)
    await fill(history, ref, 1000)
    seen: list[int] = []
    appended = 0

    async def append_meanwhile() -> None:
        nonlocal appended
        for i in range(150):
            await history.append(OWNER, ref, f"late {i}")
            appended += 1

    async def page_through() -> None:
        cursor: int | None = None
        while True:
            page = await history.page(OWNER, ref, before=cursor)
            seen.extend(m.seq for m in page.messages)
            await asyncio.sleep(0)  # let the writer task interleave
            if page.next_before is None:
                return
            cursor = page.next_before

    await asyncio.gather(append_meanwhile(), page_through())
    top = seen[0]
    assert top >= 1000
    assert seen == list(range(top, 0, -1)), "each message exactly once, newest first"
    assert appended == 150
    last, _ = await history.store.history.counts(session.id)
    assert last == 1150 and top < last, "appends really happened during the paging"


async def test_page_size_is_20_and_numbered_pages_follow_seq(
    history: HistoryService, session: Session
):
    await fill(history, session.id, 45)
    first = await history.page(OWNER, session.id)
    assert [m.seq for m in first.messages] == list(range(45, 25, -1))
    third = await history.numbered_page(OWNER, session.id, 3)
    assert (third.page, third.pages) == (3, 3)
    assert [m.seq for m in third.messages] == [5, 4, 3, 2, 1]
    with pytest.raises(UsageError, match="no page 4"):
        await history.numbered_page(OWNER, session.id, 4)


async def test_edit_keeps_every_earlier_text_as_a_revision(
    history: HistoryService, session: Session, clock: ManualClock
):
    await history.append(OWNER, session.id, "first text")
    clock.advance(60)
    await history.edit(OWNER, session.id, 1, "second text")
    clock.advance(60)
    edited = await history.edit(OWNER, session.id, 1, "third text")
    assert edited.content == "third text" and edited.edited_at == clock.now()
    _, fetched = await history.get(OWNER, session.id, 1)
    assert fetched.content == "third text"
    assert [(r.revision, r.content) for r in fetched.revisions] == [
        (1, "first text"),
        (2, "second text"),
    ]
    assert fetched.revisions[1].written_at == fetched.revisions[0].replaced_at
    events = await history.store.events.newest(session.id, limit=5)
    assert [e.data.get("action") for e in events[:2]] == ["edited", "edited"]


async def test_editors_edit_their_own_messages_owner_edits_any(
    history: HistoryService, session: Session
):
    eddie = actor("eddie")
    await history.append(OWNER, session.id, "by owner")
    await history.append(eddie, session.id, "by eddie")
    await history.edit(eddie, session.id, 2, "eddie fixed it")
    with pytest.raises(Forbidden):
        await history.edit(eddie, session.id, 1, "not yours")
    await history.edit(OWNER, session.id, 2, "owner tidied it")
    _, second = await history.get(OWNER, session.id, 2)
    assert second.content == "owner tidied it"


async def test_delete_leaves_a_tombstone_and_needs_owner_or_admin(
    history: HistoryService, session: Session
):
    await history.append(OWNER, session.id, "secret token abc")
    await history.edit(OWNER, session.id, 1, "secret token def")
    await history.append(OWNER, session.id, "keep me")
    with pytest.raises(Forbidden):
        await history.delete(actor("eddie"), session.id, 1)
    deleted = await history.delete(actor("root"), session.id, 1)  # a configured admin
    assert deleted.deleted and deleted.deleted_by == "root"
    _, tomb = await history.get(OWNER, session.id, 1)
    assert tomb.content == "" and tomb.revisions == [] and tomb.deleted_at is not None
    page = await history.page(OWNER, session.id)
    assert [m.seq for m in page.messages] == [2, 1], "seq stays gap-free"
    events = await history.store.events.newest(session.id, limit=1)
    assert events[0].type is EventType.MESSAGE
    assert events[0].data == {"action": "deleted", "seq": 1, "message_id": deleted.id}
    with pytest.raises(Conflict):
        await history.delete(OWNER, session.id, 1)
    with pytest.raises(Conflict):
        await history.edit(OWNER, session.id, 1, "revive")
    assert await count(history.store, "message_revisions") == 0  # type: ignore[arg-type]


async def test_who_may_append_and_read(history: HistoryService, session: Session):
    await history.append(actor("eddie"), session.id, "editor note")
    await history.append(actor("root"), session.id, "admin note")
    for refused in ("vera", "mallory"):  # a viewer, a workspace member with no role
        with pytest.raises(Forbidden, match="you need to be the owner, an editor or an admin"):
            await history.append(actor(refused), session.id, "nope")
    page = await history.page(actor("mallory"), session.id)
    assert [m.author_id for m in page.messages] == ["root", "eddie"]
    with pytest.raises(NotFound):
        await history.page(actor("olga", OTHER_WS), session.id)
    with pytest.raises(NotFound):
        await history.append(actor("olga", OTHER_WS), session.id, "cross-workspace")


async def test_size_limits_and_empty_text(services: Services, session: Session):
    history = services.history
    with pytest.raises(LimitExceeded, match="65,536 bytes"):
        await history.append(OWNER, session.id, "x" * (64 * 1024 + 1))
    await history.append(OWNER, session.id, "é" * (32 * 1024))  # 64 KiB of UTF-8 exactly
    limits = dataclasses.replace(services.config, history=HistoryConfig(max_message_bytes=10))
    small = build_services(services.store, clock=services.clock, config=limits).history
    with pytest.raises(LimitExceeded):
        await small.append(OWNER, session.id, "eleven char")
    with pytest.raises(UsageError, match="empty"):
        await history.append(OWNER, session.id, "   ")
    assert await history.store.history.counts(session.id) == (1, 0)


async def test_notes_on_an_archived_session_are_refused(
    history: HistoryService, services: Services, session: Session
):
    await services.sessions.complete(OWNER, session.id)
    await history.append(OWNER, session.id, "post-mortem note")  # ended sessions take notes
    await services.sessions.archive(OWNER, session.id)
    with pytest.raises(InvalidTransition, match="archived"):
        await history.append(OWNER, session.id, "too late")


async def test_threads_follow_parent_ids(history: HistoryService, session: Session):
    root = await history.append(OWNER, session.id, "question")
    await history.append(OWNER, session.id, "unrelated")
    reply = await history.append(
        OWNER, session.id, "answer", role=MessageRole.ASSISTANT, parent_id=root.id
    )
    await history.append(OWNER, session.id, "follow-up", parent_id=reply.id, metadata={"k": 1})
    thread = await history.thread(OWNER, session.id, 1)
    assert [m.content for m in thread] == ["question", "answer", "follow-up"]
    assert thread[1].role is MessageRole.ASSISTANT and thread[2].metadata == {"k": 1}
    other = await history.sessions.start(OWNER, CHAT, "Other")
    with pytest.raises(NotFound):
        await history.append(OWNER, other.id, "cross-session reply", parent_id=root.id)


async def test_append_records_activity_coalesced(
    history: HistoryService, services: Services, session: Session, clock: ManualClock
):
    clock.advance(timedelta(minutes=10))
    await history.append(OWNER, session.id, "wake up")
    touched = await services.store.sessions.by_id(session.id)
    assert touched is not None and touched.last_activity_at == clock.now()
    assert touched.abandon_at == clock.now() + timedelta(hours=24)
    clock.advance(5)
    await history.append(OWNER, session.id, "again, soon after")
    again = await services.store.sessions.by_id(session.id)
    assert again is not None and again.last_activity_at == touched.last_activity_at
