"""Session context: deep merge, null deletes, per-key TTL on a manual clock, the size limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Forbidden, InvalidTransition, LimitExceeded
from core.history import context
from core.history.messages import HistoryConfig, HistoryService
from core.history.resume import resume_view
from core.models import EventType, Role, Session
from core.services.config import ServiceConfig
from core.wiring import Services, build_services
from tests.conftest import CHAT, actor

OWNER = actor("olga")


@pytest.fixture
def history(services: Services) -> HistoryService:
    return services.history


@pytest.fixture
async def session(services: Services) -> Session:
    started = await services.sessions.start(OWNER, CHAT, "Migrate billing")
    await services.members.share(OWNER, str(started.ref), "vera", role=Role.VIEWER)
    return started


def test_deep_merge_replaces_leaves_merges_objects_and_null_deletes() -> None:
    base = {"db": {"host": "a", "port": 5432, "opts": {"ssl": True}}, "tags": [1, 2], "x": 1}
    update = {"db": {"host": "b", "opts": {"ssl": None, "pool": 5}}, "tags": [3], "x": None}
    assert context.deep_merge(base, update) == {
        "db": {"host": "b", "port": 5432, "opts": {"pool": 5}},
        "tags": [3],
    }
    assert base["db"]["host"] == "a", "the original is untouched"
    assert context.deep_merge({"a": 1}, {"a": {"b": None, "c": 2}}) == {"a": {"c": 2}}


def test_pairs_parse_json_values_else_strings() -> None:
    parsed = context.parse_pairs(
        {
            "n": "3",
            "ok": "true",
            "name": "prod eu",
            "gone": "null",
            "list": "[1,2]",
            "db.host": "x",
            "db.port": "5432",
            "bad": "NaN",
        }
    )
    assert parsed == {
        "n": 3,
        "ok": True,
        "name": "prod eu",
        "gone": None,
        "list": [1, 2],
        "db": {"host": "x", "port": 5432},
        "bad": "NaN",
    }


async def test_updates_merge_and_null_deletes_keys(history: HistoryService, session: Session):
    await context.update(history, OWNER, session.id, {"env": "prod", "db": {"host": "a"}})
    await context.update(history, OWNER, session.id, {"db": {"port": 5432}, "retries": 3})
    view = await context.update(history, OWNER, session.id, {"env": None, "db": {"host": None}})
    assert view.context == {"db": {"port": 5432}, "retries": 3}
    stored = await history.store.sessions.by_id(session.id)
    assert stored is not None and stored.context == {"db": {"port": 5432}, "retries": 3}
    events = await history.store.events.newest(session.id, limit=1)
    assert events[0].type is EventType.CONTEXT_UPDATED
    assert events[0].data == {"set": ["db"], "deleted": ["env"]}


async def test_keys_with_a_ttl_vanish_on_read_once_expired(
    history: HistoryService, session: Session, clock: ManualClock
):
    await context.update(history, OWNER, session.id, {"keep": 1})
    view = await context.update(
        history, OWNER, session.id, {"token": "abc", "lock": True}, ttl=timedelta(hours=1)
    )
    assert view.expires == {"token": clock.now() + timedelta(hours=1), "lock": view.expires["lock"]}
    clock.advance(timedelta(minutes=59))
    assert (await context.read(history, OWNER, session.id)).context == {
        "keep": 1,
        "token": "abc",
        "lock": True,
    }
    clock.advance(timedelta(minutes=1))
    shown = await context.read(history, OWNER, session.id)
    assert shown.context == {"keep": 1} and shown.expires == {}
    # Rewriting a key without a TTL makes it permanent again.
    await context.update(history, OWNER, session.id, {"lock": False})
    clock.advance(timedelta(days=30))
    assert (await context.read(history, OWNER, session.id)).context == {"keep": 1, "lock": False}
    stored = await history.store.sessions.by_id(session.id)
    assert stored is not None and "token" not in stored.context, "the next write dropped it"


async def test_maintenance_purges_expired_keys(
    services: Services, history: HistoryService, session: Session, clock: ManualClock
):
    await context.update(history, OWNER, session.id, {"a": 1, "b": 2}, ttl=timedelta(minutes=5))
    await context.update(history, OWNER, session.id, {"c": 3})
    before = await history.store.sessions.by_id(session.id)
    clock.advance(timedelta(minutes=6))
    assert await context.purge_context(services, clock.now()) == 2
    after = await history.store.sessions.by_id(session.id)
    assert after is not None and before is not None
    assert after.context == {"c": 3} and after.version == before.version + 1
    assert await history.store.context.expiry(session.id) == {}


async def test_the_size_limit_is_a_clear_error_and_changes_nothing(
    history: HistoryService, session: Session
):
    await context.update(history, OWNER, session.id, {"small": "x"})
    with pytest.raises(LimitExceeded, match=r"over the limit of 262,144 bytes"):
        await context.update(history, OWNER, session.id, {"big": "y" * (256 * 1024)})
    assert (await context.read(history, OWNER, session.id)).context == {"small": "x"}
    limits = ServiceConfig(history=HistoryConfig(max_context_bytes=20))
    tight = build_services(history.store, clock=history.clock, config=limits).history
    with pytest.raises(LimitExceeded, match="The context"):
        await context.update(tight, OWNER, session.id, {"more": "0123456789"})


async def test_concurrent_updates_all_land(history: HistoryService, session: Session):
    await asyncio.gather(
        *(context.update(history, OWNER, session.id, {f"k{i}": i}) for i in range(12))
    )
    shown = await context.read(history, OWNER, session.id)
    assert shown.context == {f"k{i}": i for i in range(12)}


async def test_reading_is_for_members_writing_for_owner_editor_admin(
    history: HistoryService, services: Services, session: Session
):
    await context.update(history, actor("root"), session.id, {"by": "admin"})
    for reader in ("vera", "mallory"):
        assert (await context.read(history, actor(reader), session.id)).context == {"by": "admin"}
        with pytest.raises(Forbidden):
            await context.update(history, actor(reader), session.id, {"by": reader})
    await services.sessions.complete(OWNER, session.id)
    await services.sessions.archive(OWNER, session.id)
    with pytest.raises(InvalidTransition, match="change the context"):
        await context.update(history, OWNER, session.id, {"late": 1})


async def test_bundle_holds_session_context_plan_10_events_20_messages(
    history: HistoryService, services: Services, session: Session
):
    await services.plans.submit(OWNER, session.id, ["Dump", "Restore"])
    await context.update(history, OWNER, session.id, {"region": "eu"})
    for i in range(25):
        await history.append(OWNER, session.id, f"line {i}")
    for _ in range(12):
        await services.progress.record_event(OWNER, session.id, EventType.TOOL_CALL, {"tool": "sh"})
    bundle = await context.bundle(history, actor("mallory"), session.id)
    assert bundle.session.id == session.id and bundle.context == {"region": "eu"}
    assert bundle.plan is not None and [i.title for i in bundle.plan.items] == ["Dump", "Restore"]
    assert len(bundle.events) == 10 and bundle.events[0].type is EventType.TOOL_CALL
    assert [m.seq for m in bundle.messages] == list(range(25, 5, -1))


async def test_resume_view_shows_the_bundle(
    history: HistoryService, services: Services, session: Session
):
    await context.update(history, OWNER, session.id, {"region": "eu"})
    await history.append(OWNER, session.id, "paused while <!channel> waits")
    await services.sessions.pause(OWNER, session.id)
    resumed = await services.sessions.resume(OWNER, session.id)
    view = await resume_view(services, OWNER, resumed)
    text = view.plain_text()
    assert view.title == f"Session #{session.ref} Migrate billing resumed by <@olga>"
    assert '"region": "eu"' in text
    assert "paused while &lt;!channel&gt; waits" in text, "user text is escaped"
    assert "resumed by <@olga>" in text and "Recent events" in text
