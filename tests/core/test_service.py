"""Service behaviour beyond the state table: the active-session default, stats, listing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import NotFound, UsageError
from core.models import ChatRef, Decision, EventType, Role
from core.wiring import Services
from tests.conftest import CHAT, WS, actor

OWNER = actor("owner")


async def test_commands_without_a_ref_use_my_latest_open_session_here(
    services: Services, clock: ManualClock
) -> None:
    older = await services.sessions.start(OWNER, CHAT, "older")
    clock.advance(60)
    newer = await services.sessions.start(OWNER, CHAT, "newer")
    elsewhere = await services.sessions.start(OWNER, ChatRef("console", WS, "random"), "elsewhere")
    await services.sessions.start(actor("amy"), CHAT, "amy's")
    paused = await services.sessions.pause(OWNER, None, channel_id="general")
    assert paused.id == newer.id
    clock.advance(60)
    await services.progress.record_iteration(OWNER, str(older.ref))  # activity makes it the latest
    assert (await services.sessions.find(OWNER, None, channel_id="general")).id == older.id
    assert (await services.sessions.find(OWNER, None, channel_id="random")).id == elsewhere.id
    with pytest.raises(NotFound):
        await services.sessions.find(actor("nobody"), None, channel_id="general")


async def test_stats_count_rates_durations_and_latency(
    services: Services, clock: ManualClock
) -> None:
    for title, minutes, ending in (("a", 10, "complete"), ("b", 30, "complete"), ("c", 50, "fail")):
        session = await services.sessions.start(OWNER, CHAT, title, mode="deploy")
        await services.plans.submit(OWNER, str(session.ref), ["x"])
        clock.advance(timedelta(minutes=minutes))
        await services.plans.decide(OWNER, Decision.APPROVE, ref=str(session.ref))
        await services.progress.record_iteration(OWNER, str(session.ref), count=4)
        if ending == "complete":
            await services.sessions.complete(OWNER, str(session.ref))
        else:
            await services.sessions.fail(OWNER, str(session.ref), reason="broke")
    await services.sessions.start(OWNER, CHAT, "still open", mode="incident")
    stats = await services.workspace.stats(OWNER, days=7)
    assert stats.by_status == {"completed": 2, "failed": 1, "active": 1}
    assert stats.by_mode == {"deploy": 3, "incident": 1}
    assert stats.average_iterations == 3.0
    assert stats.success_rate == pytest.approx(2 / 3)
    assert stats.median_duration == timedelta(minutes=30)
    assert stats.median_approval_latency == timedelta(minutes=30)


async def test_list_filters_and_pages(services: Services, clock: ManualClock) -> None:
    for i in range(25):
        clock.advance(1)
        await services.sessions.start(
            actor("amy" if i % 5 == 0 else "owner"), CHAT, f"s{i}", mode="m"
        )
    await services.sessions.complete(OWNER, "2")
    page1 = await services.sessions.list_sessions(OWNER, filter="open")
    page3 = await services.sessions.list_sessions(OWNER, filter="open", page=3)
    assert page1.total == 24 and page1.pages == 3 and len(page1.sessions) == 10
    assert [s.title for s in page1.sessions][:2] == ["s24", "s23"]  # most recently active first
    assert len(page3.sessions) == 4
    mine = await services.sessions.list_sessions(actor("amy"), filter="all", owner="mine")
    assert mine.total == 5 and all(s.owner_id == "amy" for s in mine.sessions)
    done = await services.sessions.list_sessions(OWNER, filter="done")
    assert [s.ref for s in done.sessions] == [2]
    with pytest.raises(UsageError):
        await services.sessions.list_sessions(OWNER, filter="finished")


async def test_tool_calls_and_learnings_are_events_and_activity(
    services: Services, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "agent")
    clock.advance(timedelta(hours=1))
    seq = await services.progress.record_event(
        OWNER, str(session.ref), EventType.TOOL_CALL, {"tool": "sh"}
    )
    await services.progress.record_event(OWNER, session.id, EventType.LEARNING, {"fact": "x"})
    _, events = await services.progress.events(OWNER, str(session.ref))
    assert [e.type for e in events[:2]] == [EventType.LEARNING, EventType.TOOL_CALL]
    assert events[1].seq == seq and events[0].seq == seq + 1
    touched = await services.store.sessions.by_id(session.id)
    assert touched is not None and touched.last_activity_at == clock.now() - timedelta(0)
    assert touched.abandon_at == clock.now() + timedelta(hours=24)
    with pytest.raises(UsageError):
        await services.progress.record_event(OWNER, session.id, EventType.COMPLETED, {})


async def test_editors_may_record_but_viewers_may_not(services: Services) -> None:
    from core.errors import Forbidden

    session = await services.sessions.start(OWNER, CHAT, "shared")
    await services.members.share(OWNER, str(session.ref), "ed", role=Role.EDITOR)
    await services.members.share(OWNER, str(session.ref), "vi", role=Role.VIEWER)
    await services.progress.record_event(actor("ed"), session.id, EventType.TOOL_CALL, {})
    with pytest.raises(Forbidden):
        await services.progress.record_event(actor("vi"), session.id, EventType.TOOL_CALL, {})
    with pytest.raises(NotFound):
        await services.progress.record_event(
            actor("ed", "console:other"), session.id, EventType.TOOL_CALL, {}
        )
