"""`store.history` and `store.context`: gap-free message seqs, edits, tombstones, context."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from core.errors import Conflict, Forbidden, NotFound
from core.history.search import parse_query
from core.models import new_id
from core.records.history import MATCH_END, MATCH_START, Message, MessageRole
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, event, new_session, session_record

TOUCH_AFTER = timedelta(minutes=1)
ABANDON_AFTER = timedelta(hours=24)


def _allow(facts: ops.SessionFacts) -> None:
    pass


def _draft(text: str, at: datetime = NOW, role: MessageRole = MessageRole.USER,
           parent: str | None = None) -> Message:  # fmt: skip
    return Message(new_id(), "", 0, role, "olga", text, at, parent_id=parent,
                   metadata={"k": [1]})  # fmt: skip


async def _append(store: Store, ref: str, draft: Message, check: ops.Check = _allow) -> Message:
    return await store.history.append(
        WS, ref, draft, check, touch_after=TOUCH_AFTER, abandon_after=ABANDON_AFTER
    )


async def test_appended_messages_get_gap_free_seqs_across_two_stores(
    store: Store, second: Store
) -> None:
    sessions = [await new_session(store) for _ in range(2)]
    written = await asyncio.gather(
        *(
            _append(store if n % 2 else second, str(s.ref), _draft(f"m{n}"))
            for s in sessions
            for n in range(25)
        )
    )
    for s in sessions:
        seqs = sorted(m.seq for m in written if m.session_id == s.id)
        assert seqs == list(range(1, 26)), s.ref
        assert await store.history.last_seq(s.id) == 25


async def test_an_appended_message_reads_back_by_seq(store: Store) -> None:
    session = await new_session(store)
    message = await _append(store, session.id, _draft("hello ✓"))
    assert (message.session_id, message.seq) == (session.id, 1)
    assert await store.history.message(session.id, seq=1) == message
    assert await store.history.message(session.id, seq=2) is None
    assert await store.history.message("no-such-session", seq=1) is None


async def test_a_refused_append_or_a_missing_parent_writes_nothing(store: Store) -> None:
    session = await new_session(store)

    def refuse(facts: ops.SessionFacts) -> None:
        raise Forbidden("write", ["editor"])

    with pytest.raises(Forbidden):
        await _append(store, session.id, _draft("no", NOW + timedelta(hours=1)), refuse)
    with pytest.raises(NotFound):
        await _append(store, session.id, _draft("orphan", parent="no-such-message"))
    with pytest.raises(NotFound):
        await store.history.append(
            OTHER_WS, str(session.ref), _draft("elsewhere"), _allow,
            touch_after=TOUCH_AFTER, abandon_after=ABANDON_AFTER,
        )  # fmt: skip
    assert await store.history.last_seq(session.id) == 0
    assert await store.sessions.by_id(session.id) == session


async def test_an_append_records_activity_once_per_window(store: Store) -> None:
    session = await new_session(store)
    await _append(store, session.id, _draft("soon", NOW + timedelta(seconds=5)))
    assert await store.sessions.by_id(session.id) == session
    at = NOW + TOUCH_AFTER
    await _append(store, session.id, _draft("later", at))
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert (found.last_activity_at, found.abandon_at, found.version) == (at, at + ABANDON_AFTER, 1)


async def test_an_edit_keeps_the_old_text_as_a_revision(store: Store) -> None:
    session = await new_session(store)
    message = await _append(store, session.id, _draft("v1"))
    t1, t2 = NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    await store.history.edit(session.id, 1, "v2", by="olga", at=t1)
    edited = await store.history.edit(
        session.id, 1, "v3", by="ivan", at=t2, extra=[ops.AddEvent(event(session.id))]
    )
    assert (edited.content, edited.edited_at) == ("v3", t2)
    found = await store.history.message(session.id, seq=1)
    assert found is not None and (found.content, found.edited_at) == ("v3", t2)
    assert [(r.revision, r.content, r.written_at, r.replaced_at, r.replaced_by)
            for r in found.revisions] == [
        (1, "v1", NOW, t1, "olga"), (2, "v2", t1, t2, "ivan"),
    ]  # fmt: skip
    assert (await store.history.revisions([message.id, "none"])).keys() == {message.id}
    assert await store.history.revisions([]) == {}
    assert len(await store.events.newest(session.id, limit=5)) == 1
    with pytest.raises(NotFound):
        await store.history.edit(session.id, 9, "x", by="olga", at=t2)


async def test_a_delete_leaves_a_tombstone_that_cannot_be_edited(store: Store) -> None:
    session = await new_session(store)
    await _append(store, session.id, _draft("secret", role=MessageRole.ASSISTANT))
    await _append(store, session.id, _draft("kept"))
    await store.history.edit(session.id, 1, "secret 2", by="olga", at=NOW)
    at = NOW + timedelta(minutes=1)
    gone = await store.history.delete(session.id, 1, by="root", at=at)
    assert (gone.content, gone.deleted_at, gone.deleted_by) == ("", at, "root")
    found = await store.history.message(session.id, seq=1)
    assert found is not None and (found.content, found.revisions, found.deleted) == ("", [], True)
    with pytest.raises(Conflict):
        await store.history.edit(session.id, 1, "back", by="olga", at=at)
    with pytest.raises(Conflict):
        await store.history.delete(session.id, 1, by="olga", at=at)
    assert await store.history.counts(session.id) == (2, 1)
    assert await store.history.role_counts(session.id) == {"user": 1}
    assert await store.history.last_seq(session.id) == 2, "a tombstone keeps its seq"


async def test_before_and_after_page_by_seq(store: Store) -> None:
    session = await new_session(store)
    for n in range(1, 6):
        await _append(store, session.id, _draft(f"m{n}"))

    async def before(seq: int | None, limit: int) -> list[int]:
        found = await store.history.before(session.id, before_seq=seq, limit=limit)
        return [m.seq for m in found]

    async def after(seq: int, limit: int) -> list[int]:
        return [m.seq for m in await store.history.after(session.id, after_seq=seq, limit=limit)]

    assert await before(None, 2) == [5, 4]
    assert await before(4, 2) == [3, 2]
    assert await before(1, 2) == []
    assert await after(0, 2) == [1, 2]
    assert await after(4, 9) == [5]
    assert await after(5, 9) == []
    assert await store.history.counts("no-such-session") == (0, 0)
    assert await store.history.role_counts("no-such-session") == {}


async def test_a_thread_is_a_message_and_every_reply_under_it(store: Store) -> None:
    session = await new_session(store)
    root = await _append(store, session.id, _draft("root"))
    other = await _append(store, session.id, _draft("other"))
    reply = await _append(store, session.id, _draft("reply", parent=root.id))
    await _append(store, session.id, _draft("aside", parent=other.id))
    deep = await _append(store, session.id, _draft("deep", parent=reply.id))
    thread = await store.history.thread(session.id, root.id)
    assert [m.id for m in thread] == [root.id, reply.id, deep.id]
    assert await store.history.thread(session.id, "no-such-message") == []


async def test_inserted_messages_keep_their_seqs(store: Store) -> None:
    session = await new_session(store)
    given = [dataclasses.replace(_draft(f"m{n}"), session_id=session.id, seq=n) for n in (1, 2, 5)]
    await store.history.insert(given)
    assert [m.seq for m in await store.history.after(session.id, after_seq=0, limit=9)] == [1, 2, 5]
    assert (await _append(store, session.id, _draft("next"))).seq == 6


async def test_concurrent_context_merges_from_two_stores_lose_nothing(
    store: Store, second: Store
) -> None:
    session = await new_session(store)

    def adding(n: int) -> Any:
        def merge(context: dict[str, Any], expiry: dict[str, datetime], status: str) -> Any:
            changes = {f"k{n}": NOW + timedelta(hours=1)} if n % 2 else {}
            return {**context, f"k{n}": n}, changes

        return merge

    await asyncio.gather(
        *((store if n % 2 else second).context.merge(session.id, adding(n), now=NOW)
          for n in range(20))
    )  # fmt: skip
    found = await store.sessions.by_id(session.id)
    assert found is not None
    assert found.context == {f"k{n}": n for n in range(20)}
    assert found.version == 21
    assert await store.context.expiry(session.id) == {
        f"k{n}": NOW + timedelta(hours=1) for n in range(1, 20, 2)
    }


async def test_expired_context_keys_are_purged_once(store: Store) -> None:
    session = await new_session(store)

    def merge(context: dict[str, Any], expiry: dict[str, datetime], status: str) -> Any:
        return {"a": 1, "b": 2, "c": 3}, {"a": NOW, "b": NOW + timedelta(hours=1)}

    await store.context.merge(session.id, merge, now=NOW)
    assert await store.context.purge_expired(NOW) == 1
    assert await store.context.purge_expired(NOW) == 0
    found = await store.sessions.by_id(session.id)
    assert found is not None and found.context == {"b": 2, "c": 3}
    assert await store.context.expiry(session.id) == {"b": NOW + timedelta(hours=1)}
    with pytest.raises(NotFound):
        await store.context.merge("no-such-session", merge, now=NOW)


async def test_search_finds_live_messages_of_the_workspace_only(store: Store) -> None:
    session = await new_session(store, title="deploys")
    other = await new_session(store, workspace=OTHER_WS)
    kept = await _append(store, session.id, _draft("the rollout of the kestrel service"))
    await _append(store, session.id, _draft("kestrel secrets here"))
    await store.history.delete(session.id, 2, by="olga", at=NOW)
    await store.history.append(
        OTHER_WS, other.id, _draft("kestrel elsewhere"), _allow,
        touch_after=TOUCH_AFTER, abandon_after=ABANDON_AFTER,
    )  # fmt: skip
    hits = await store.history.search(WS, parse_query("kestrel"))
    assert [(h.message_id, h.session_ref, h.session_title, h.seq) for h in hits] == [
        (kept.id, session.ref, "deploys", 1)
    ]
    assert f"{MATCH_START}kestrel{MATCH_END}" in hits[0].snippet
    assert await store.history.search(WS, parse_query("kestrel"), session_id=other.id) == []
    assert await store.history.search(WS, parse_query("kestrel"), offset=1) == []
    assert await store.history.search(WS, parse_query("secrets")) == [], "a tombstone is gone"


async def test_ids_in_use_finds_any_taken_session_plan_or_message_id(store: Store) -> None:
    session = await new_session(store)
    message = await _append(store, session.id, _draft("hi"))
    in_use = store.history.ids_in_use
    assert not await in_use(session_ids=["x"], plan_ids=["y"], message_ids=["z"])
    assert not await in_use(session_ids=[], plan_ids=[], message_ids=[])
    assert await in_use(session_ids=["x", session.id], plan_ids=[], message_ids=[])
    assert await in_use(
        session_ids=[], plan_ids=[], message_ids=[*map(str, range(900)), message.id]
    )
    assert not await in_use(session_ids=[], plan_ids=[session.id], message_ids=[session.id])


async def test_a_fork_copies_history_up_to_a_seq_with_a_new_ref(store: Store) -> None:
    parent = await new_session(store)
    first = await _append(store, parent.id, _draft("one"))
    await _append(store, parent.id, _draft("two", parent=first.id))
    await _append(store, parent.id, _draft("three"))
    await store.history.edit(parent.id, 2, "two, edited", by="olga", at=NOW)
    child = session_record(0, parent_id=parent.id)

    def build(ref: int) -> list[ops.Op]:
        return [ops.NewSession(dataclasses.replace(child, ref=ref))]

    ref = await store.history.fork(WS, build, parent_id=parent.id, child_id=child.id, up_to_seq=2)
    assert ref == parent.ref + 1
    copied = await store.history.after(child.id, after_seq=0, limit=10)
    assert [(m.seq, m.content) for m in copied] == [(1, "one"), (2, "two, edited")]
    assert copied[1].parent_id == copied[0].id != first.id, "replies point at the copies"
    revised = await store.history.message(child.id, seq=2)
    assert revised is not None and [r.content for r in revised.revisions] == ["two"]
    assert await store.history.last_seq(parent.id) == 3


async def test_a_failed_fork_or_import_leaves_nothing_and_takes_no_ref(store: Store) -> None:
    parent = await new_session(store)
    await _append(store, parent.id, _draft("one"))
    child = session_record(0)

    def clashing(ref: int) -> list[ops.Op]:
        return [
            ops.NewSession(dataclasses.replace(child, ref=ref)),
            ops.UpdateSession(parent.id, 9, {"title": "stale"}),
        ]

    with pytest.raises(Conflict):
        await store.history.fork(WS, clashing, parent_id=parent.id, child_id=child.id, up_to_seq=1)
    with pytest.raises(Conflict):
        await store.history.import_session(
            child, clashing, plans=[], modifications=[], events=[], expiry={},
            messages=[dataclasses.replace(_draft("x"), session_id=child.id, seq=1)],
        )  # fmt: skip
    assert await store.sessions.by_id(child.id) is None
    assert await store.history.last_seq(child.id) == 0
    assert await store.apply([ops.AllocateRef(WS)]) == [parent.ref + 1]


async def test_a_word_matching_many_messages_is_ranked_among_the_newest_matches(
    store: Store,
) -> None:
    session = await new_session(store)
    other = await new_session(store, workspace=OTHER_WS)
    texts = ["kestrel kestrel kestrel", "kestrel kestrel", "kestrel kestrel hills",  # most relevant
             "a kestrel flies over the long grey hills of the north today and tomorrow",
             "a kestrel flies over the long grey hills",
             "a kestrel flies over the long grey hills of the north"]  # fmt: skip
    kept = [(await _append(store, session.id, _draft(t))).id for t in texts]
    for _ in range(3):  # newer matches of another workspace take no place among ours
        await store.history.append(
            OTHER_WS, other.id, _draft("kestrel"), _allow,
            touch_after=TOUCH_AFTER, abandon_after=ABANDON_AFTER,
        )  # fmt: skip
    query = parse_query("kestrel")

    async def found(**page: int) -> list[str]:
        return [h.message_id for h in await store.history.search(WS, query, **page)]

    everything = await found(limit=10)
    assert sorted(everything) == sorted(kept) and set(everything[:3]) == set(kept[:3])
    store.history.ranked = 3
    newest = [i for i in everything if i in kept[3:]]  # the 3 newest, in the same order
    assert await found(limit=3) == newest
    assert await found(limit=2) == newest[:2]
    assert await found(offset=2, limit=1) == newest[2:]
    assert await found(offset=3, limit=3) == everything[3:6], "past 3: the 6 newest ranked"
    one = await store.history.search(WS, query, session_id=session.id, limit=1)
    assert [h.message_id for h in one] == everything[:1], "one session: every match ranked"
