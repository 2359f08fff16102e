"""`store.homes` and the Home republishes a unit enqueues: only for viewers the session
concerns, one row per viewer and window however many changes (both backends)."""

from __future__ import annotations

from datetime import timedelta

from core.models import Member, OutboxKind, Role, Status
from core.store import ops
from core.store.homes import WINDOW
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import LEASE, NOW, event, new_session


async def homes_due(store: Store, *, after: timedelta) -> list[str]:
    rows = await store.outbox.claim(
        workspaces=[WS, OTHER_WS], now=NOW + after, limit=100, lease=LEASE
    )
    return sorted(r.target["user_id"] for r in rows if r.kind is OutboxKind.HOME)


async def test_a_change_republishes_the_homes_of_the_viewers_it_concerns(store: Store) -> None:
    member = Member("mia", Role.APPROVER, "olga", NOW)
    session = await new_session(store, member)
    for user, admin in (("olga", False), ("mia", False), ("ned", False), ("ada", True)):
        await store.homes.opened(WS, user, admin=admin, at=NOW)
    await store.homes.opened(OTHER_WS, "zoe", admin=True, at=NOW)  # another workspace's admin
    for n in range(50):  # fifty changes in one second
        await store.apply(
            [ops.AddEvent(event(session.id, n, NOW + timedelta(milliseconds=20 * n)))]
        )
    assert await homes_due(store, after=timedelta(0)) == []  # due when the window ends
    due = await homes_due(store, after=2 * WINDOW)
    assert sorted(set(due)) == ["ada", "mia", "olga"]  # not ned, not zoe; never who never opened
    assert len(due) <= 2 * 3  # at most two windows per viewer


async def test_a_unit_without_an_event_or_a_viewer_enqueues_no_home(store: Store) -> None:
    session = await new_session(store)
    await store.apply([ops.AddEvent(event(session.id))])  # nobody opened a Home yet
    await store.homes.opened(WS, "olga", admin=False, at=NOW)
    await store.apply([ops.Touch(session.id, NOW + timedelta(seconds=1), None)])
    assert await homes_due(store, after=2 * WINDOW) == []
    assert await store.homes.viewer(WS, "olga") == (False, NOW)
    assert await store.homes.viewer(WS, "ned") is None


async def test_a_viewers_sessions_open_and_ended(store: Store) -> None:
    member = Member("mia", Role.VIEWER, "olga", NOW)
    mine = await new_session(store, member)
    ended = await new_session(store, status=Status.COMPLETED, ended_at=NOW, outcome="completed")
    await new_session(store, owner_id="ned")
    open_ = await store.homes.sessions(WS, "olga", open_=True, limit=10)
    assert [s.id for s in open_] == [mine.id]
    assert [s.id for s in await store.homes.sessions(WS, "mia", open_=True, limit=10)] == [mine.id]
    assert [s.id for s in await store.homes.sessions(WS, "olga", open_=False, limit=10)] == [
        ended.id
    ]
