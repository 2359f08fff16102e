"""`store.sessions`: lookups by ref, paging, deletion, members, thread refs and counts."""

from __future__ import annotations

from datetime import timedelta

from core.models import Member, Role, Status
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, event, new_session, outbox_row, plan_record


async def test_get_finds_a_session_by_number_or_full_id_in_its_workspace_only(
    store: Store,
) -> None:
    first = await new_session(store)
    second = await new_session(store)
    assert second.ref == first.ref + 1
    assert await store.sessions.get(WS, str(second.ref)) == second
    assert await store.sessions.get(WS, second.id) == second
    assert await store.sessions.get(OTHER_WS, str(second.ref)) is None
    assert await store.sessions.get(OTHER_WS, second.id) is None


async def test_get_with_a_ref_that_is_no_number_or_no_row_finds_nothing(store: Store) -> None:
    await new_session(store)
    for ref in ("", "#1", "1 ", " 1", "-1", "1.0", "x", "99", "2147483648", "99999999999", "١"):
        assert await store.sessions.get(WS, ref) is None, ref


async def test_by_id_reads_back_every_field_and_misses_give_none(store: Store) -> None:
    session = await new_session(
        store,
        context={"k": ["v", 1]},
        metadata={"m": {"deep": True}},
        thread_ref="t1",
        iterations=3,
        max_iterations=7,
        status=Status.PAUSED,
        result="r",
        outcome="o",
        error="e",
        ended_at=NOW + timedelta(hours=1),
        abandon_at=None,
    )
    assert await store.sessions.by_id(session.id) == session
    assert await store.sessions.by_id("no-such-id") is None


async def test_active_is_the_owners_most_recently_active_open_session_in_the_channel(
    store: Store,
) -> None:
    older = await new_session(store, last_activity_at=NOW)
    newer = await new_session(store, last_activity_at=NOW + timedelta(minutes=1))
    await new_session(store, last_activity_at=NOW + timedelta(minutes=2), status=Status.COMPLETED)
    await new_session(store, last_activity_at=NOW + timedelta(minutes=3), channel_id="random")
    await new_session(store, last_activity_at=NOW + timedelta(minutes=4), owner_id="ivan")
    found = await store.sessions.active(WS, "general", "olga")
    assert found is not None and found.id == newer.id
    await store.apply([ops.UpdateSession(newer.id, 1, {"status": "cancelled"})])
    found = await store.sessions.active(WS, "general", "olga")
    assert found is not None and found.id == older.id
    assert await store.sessions.active(OTHER_WS, "general", "olga") is None
    assert await store.sessions.active(WS, "general", "nobody") is None


async def test_page_orders_by_recent_activity_then_ref_and_counts_the_total(store: Store) -> None:
    made = [
        await new_session(store, last_activity_at=NOW + timedelta(minutes=m % 3)) for m in range(7)
    ]
    page = await store.sessions.page(WS, statuses=None, owner_id=None, mode=None, limit=3, offset=0)
    expected = sorted(made, key=lambda s: (s.last_activity_at, s.ref), reverse=True)
    assert [s.ref for s in page.sessions] == [s.ref for s in expected[:3]]
    assert page.total == 7
    rest = await store.sessions.page(WS, statuses=None, owner_id=None, mode=None, limit=5, offset=3)
    assert [s.ref for s in rest.sessions] == [s.ref for s in expected[3:]]
    assert rest.total == 7


async def test_page_past_the_end_is_empty_but_still_counts_the_total(store: Store) -> None:
    for _ in range(3):
        await new_session(store)
    for offset in (3, 4, 100):
        page = await store.sessions.page(
            WS, statuses=None, owner_id=None, mode=None, limit=10, offset=offset
        )
        assert (page.sessions, page.total) == ([], 3), offset
    empty = await store.sessions.page(
        OTHER_WS, statuses=None, owner_id=None, mode=None, limit=10, offset=0
    )
    assert (empty.sessions, empty.total) == ([], 0)
    past = await store.sessions.page(
        OTHER_WS, statuses=None, owner_id=None, mode=None, limit=10, offset=5
    )
    assert (past.sessions, past.total) == ([], 0)


async def test_page_filters_by_statuses_owner_and_mode(store: Store) -> None:
    active = await new_session(store)
    paused = await new_session(store, status=Status.PAUSED, mode="review")
    done = await new_session(store, status=Status.COMPLETED, owner_id="ivan")

    async def refs(**filters: object) -> tuple[list[int], int]:
        args: dict[str, object] = {"statuses": None, "owner_id": None, "mode": None}
        args.update(filters)
        page = await store.sessions.page(WS, limit=10, offset=0, **args)  # type: ignore[arg-type]
        return sorted(s.ref for s in page.sessions), page.total

    assert await refs(statuses=[Status.ACTIVE, Status.PAUSED]) == ([active.ref, paused.ref], 2)
    assert await refs(statuses=[Status.COMPLETED]) == ([done.ref], 1)
    assert await refs(statuses=[]) == ([], 0), "an empty status filter matches nothing"
    assert await refs(statuses=[], owner_id="olga") == ([], 0)
    assert await refs(owner_id="ivan") == ([done.ref], 1)
    assert await refs(mode="review") == ([paused.ref], 1)
    assert await refs(mode="review", owner_id="ivan") == ([], 0)


async def test_delete_needs_the_current_version_and_takes_every_row_of_the_session(
    store: Store,
) -> None:
    session = await new_session(store, Member("ivan", Role.EDITOR, "olga", NOW))
    kept = await new_session(store)
    await store.apply(
        [
            ops.AddEvent(event(session.id)),
            ops.NewPlan(plan_record(session.id)),
            ops.Enqueue(outbox_row(1, session_id=session.id)),
            ops.AddEvent(event(kept.id)),
        ]
    )
    assert not await store.sessions.delete(session.id, version=session.version + 1)
    assert await store.sessions.by_id(session.id) is not None
    assert await store.sessions.delete(session.id, version=session.version)
    assert await store.sessions.by_id(session.id) is None
    assert await store.sessions.members(session.id) == []
    assert await store.events.newest(session.id, limit=10) == []
    assert await store.plans.current(session.id) is None
    assert await store.outbox.rows(session_id=session.id) == []
    assert not await store.sessions.delete(session.id, version=session.version), "gone"
    assert len(await store.events.newest(kept.id, limit=10)) == 1


async def test_members_are_ordered_by_time_added_then_user(store: Store) -> None:
    later = NOW + timedelta(minutes=1)
    session = await new_session(
        store,
        Member("zed", Role.VIEWER, "olga", NOW),
        Member("ann", Role.APPROVER, "olga", later),
        Member("bob", Role.EDITOR, "olga", later),
    )
    members = await store.sessions.members(session.id)
    assert [(m.user_id, m.role) for m in members] == [
        ("olga", Role.OWNER), ("zed", Role.VIEWER), ("ann", Role.APPROVER), ("bob", Role.EDITOR),
    ]  # fmt: skip
    assert await store.sessions.members("no-such-session") == []


async def test_put_member_replaces_the_role_and_remove_member_removes_one(store: Store) -> None:
    session = await new_session(store, Member("ivan", Role.VIEWER, "olga", NOW))
    later = NOW + timedelta(minutes=5)
    await store.apply([ops.PutMember(session.id, Member("ivan", Role.APPROVER, "root", later))])
    ivan = [m for m in await store.sessions.members(session.id) if m.user_id == "ivan"]
    assert [(m.role, m.added_by, m.added_at) for m in ivan] == [(Role.APPROVER, "olga", NOW)]
    await store.apply(
        [ops.RemoveMember(session.id, "ivan"), ops.RemoveMember(session.id, "nobody")]
    )
    assert [m.user_id for m in await store.sessions.members(session.id)] == ["olga"]


async def test_the_first_thread_ref_wins(store: Store) -> None:
    session = await new_session(store)
    await store.sessions.set_thread_ref(session.id, "first")
    await store.sessions.set_thread_ref(session.id, "second")
    found = await store.sessions.by_id(session.id)
    assert found is not None and found.thread_ref == "first"
    assert found.version == session.version, "no version bump"
    await store.sessions.set_thread_ref("no-such-session", "x")  # nothing to do, no error


async def test_counts_are_by_status_across_workspaces(store: Store) -> None:
    assert await store.sessions.counts() == {}
    await new_session(store)
    await new_session(store, workspace=OTHER_WS)
    await new_session(store, status=Status.COMPLETED)
    assert await store.sessions.counts() == {"active": 2, "completed": 1}


async def test_members_without_a_time_added_come_first_on_every_backend(store: Store) -> None:
    # Imported sessions (core/history/records.py) may carry members whose time added is
    # unknown; one listing order for both backends, as SQLite gives it (no time sorts first).
    session = await new_session(
        store, Member("zed", Role.VIEWER, None, None), Member("amy", Role.EDITOR, None, None)
    )
    members = await store.sessions.members(session.id)
    assert [m.user_id for m in members] == ["amy", "zed", "olga"]
