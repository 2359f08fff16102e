"""Two stores on one database (two replicas): every claim and decision happens exactly once.

Runs on both backends: SQLite with two writers on one file, PostgreSQL with two pools
(outbox leases with SKIP LOCKED, job slots in job_runs, compare-and-set decisions).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import ManualClock
from core.errors import Conflict
from core.history.messages import HistoryService
from core.models import (
    Decision,
    Event,
    EventType,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    PlanStatus,
    Role,
    Session,
    Source,
    new_id,
)
from core.records.jobs import ClaimSlot, Reminder, ReminderKind, ReminderStatus, SendReminder
from core.services.config import ServiceConfig
from core.store import ops
from core.store.store import Store
from core.wiring import build_services
from tests.conftest import CHAT, WS, actor, count

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def _row(n: int) -> OutboxRow:
    return OutboxRow(
        id=new_id(), workspace=WS, kind=OutboxKind.CHANNEL_MESSAGE, target={"channel": "c"},
        payload={"n": n}, dedupe_key=f"test:{n}", status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=NOW - timedelta(seconds=n), created_at=NOW,
    )  # fmt: skip


async def _drain(store: Store, taken: list[str]) -> None:
    while rows := await store.outbox.claim(workspaces=[WS], now=NOW, limit=7, lease=LEASE):
        taken.extend(r.id for r in rows)
        await asyncio.sleep(0)


async def test_two_replicas_never_lease_the_same_outbox_row(store: Store, second: Store) -> None:
    rows = [_row(n) for n in range(200)]
    await store.apply([ops.Enqueue(r) for r in rows])
    first_taken: list[str] = []
    second_taken: list[str] = []
    await asyncio.gather(
        _drain(store, first_taken), _drain(second, second_taken), _drain(store, first_taken)
    )
    assert not set(first_taken) & set(second_taken)
    assert sorted(first_taken + second_taken) == sorted(r.id for r in rows)
    assert len(first_taken + second_taken) == len(rows), "no row leased twice"


async def test_an_expired_lease_is_claimed_again_by_the_other_replica(
    store: Store, second: Store
) -> None:
    (row,) = [_row(1)]
    await store.apply([ops.Enqueue(row)])
    assert [r.id for r in await store.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=LEASE)]
    assert await second.outbox.claim(workspaces=[WS], now=NOW, limit=5, lease=LEASE) == []
    later = NOW + LEASE + timedelta(seconds=1)
    again = await second.outbox.claim(workspaces=[WS], now=later, limit=5, lease=LEASE)
    assert [r.id for r in again] == [row.id]


async def test_a_job_slot_is_claimed_by_one_replica(store: Store, second: Store) -> None:
    slots = [NOW + timedelta(minutes=m) for m in range(25)]

    async def claim(on: Store, slot: datetime, owner: str) -> bool:
        return await on.jobs.apply_claimed([ClaimSlot("sweep", slot, owner, NOW)], [])

    won = await asyncio.gather(
        *(claim(s, slot, o) for slot in slots for s, o in ((store, "a"), (second, "b")))
    )
    assert won.count(True) == len(slots)
    assert all(won[i] != won[i + 1] for i in range(0, len(won), 2)), "one winner per slot"
    assert await count(store, "job_runs") == len(slots)


async def test_a_due_reminder_is_sent_by_one_replica(store: Store, second: Store) -> None:
    config = ServiceConfig()
    session = await build_services(store, clock=ManualClock(NOW), config=config).sessions.start(
        actor("owner"), CHAT, "remind me"
    )
    ids = [f"r{n}" for n in range(20)]
    for rid in ids:
        await store.jobs.add_reminder(
            Reminder(rid, WS, session.id, "user:owner", "ping", NOW, "owner",
                     ReminderKind.USER, ReminderStatus.SCHEDULED, NOW)
        )  # fmt: skip

    async def send(on: Store, rid: str) -> bool:
        event = Event(new_id(), session.id, 0, EventType.REMINDER_SENT, "owner", Source.CONSOLE,
                      {"reminder": rid}, NOW)  # fmt: skip
        return await on.jobs.apply_claimed([SendReminder(rid)], [ops.AddEvent(event)])

    sent = await asyncio.gather(*(send(s, rid) for rid in ids for s in (store, second, store)))
    assert sent.count(True) == len(ids)
    assert await count(store, "reminders", "status = 'sent'") == len(ids)
    sent_events = await count(
        store, "events", "session_id = ? AND type = ?", session.id, EventType.REMINDER_SENT.value
    )
    assert sent_events == len(ids)


async def test_twenty_concurrent_decisions_on_two_replicas_make_one(
    store: Store, second: Store
) -> None:
    clock = ManualClock(NOW)
    config = ServiceConfig()
    one = build_services(store, clock=clock, config=config)
    two = build_services(second, clock=clock, config=config)
    owner = actor("owner")
    users = [f"u{i}" for i in range(20)]
    session = await one.sessions.start(owner, CHAT, "race across replicas")
    for user in users:
        await one.members.share(owner, str(session.ref), user, role=Role.APPROVER)
    plan = (await one.plans.submit(owner, str(session.ref), ["ship it"])).plan

    async def click(i: int) -> object:
        services = one if i % 2 else two
        decision = Decision.APPROVE if i % 3 else Decision.REJECT
        try:
            return await services.plans.decide(actor(users[i]), decision, plan_id=plan.id)
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(click(i) for i in range(20)))
    winners = [o for o in outcomes if not isinstance(o, Conflict)]
    assert len(winners) == 1, outcomes
    decided = await second.plans.get(plan.id)
    assert decided is not None and decided.status in (PlanStatus.APPROVED, PlanStatus.REJECTED)
    assert all(o.decided_by == decided.decided_by for o in outcomes if isinstance(o, Conflict))
    assert await count(store, "approvals", "plan_id = ?", plan.id) == 1
    kinds = ("plan_approved", "plan_rejected")
    decisions = await count(
        store, "events", "session_id = ? AND type IN (?, ?)", session.id, *kinds
    )
    assert decisions == 1


async def test_events_appended_through_two_replicas_get_gap_free_seqs(
    store: Store, second: Store
) -> None:
    clock = ManualClock(NOW)
    one = build_services(store, clock=clock)
    two = build_services(second, clock=clock)
    owner = actor("owner")
    session = await one.sessions.start(owner, CHAT, "busy")
    seqs = await asyncio.gather(
        *(
            (one if i % 2 else two).progress.record_event(
                owner, session.id, EventType.TOOL_CALL, {"i": i}
            )
            for i in range(60)
        )
    )
    assert len(set(seqs)) == 60
    events = await store.events.newest(session.id, limit=1000)
    assert [e.seq for e in reversed(events)] == list(range(1, len(events) + 1))


@pytest.fixture
async def two_histories(
    store: Store, second: Store
) -> tuple[HistoryService, HistoryService, Session]:
    """The history feature on both replicas, and a session to write to."""
    clock = ManualClock(NOW)
    one = build_services(store, clock=clock).history
    two = build_services(second, clock=clock).history
    return one, two, await one.sessions.start(actor("owner"), CHAT, "busy")


async def test_messages_appended_through_two_replicas_get_gap_free_seqs(
    store: Store, two_histories: tuple[HistoryService, HistoryService, Session]
) -> None:
    one, two, session = two_histories
    owner = actor("owner")
    sent = await asyncio.gather(
        *((one if i % 2 else two).append(owner, session.id, f"note {i}") for i in range(60))
    )
    assert sorted(m.seq for m in sent) == list(range(1, 61))
    stored = await store.history.after(session.id, after_seq=0, limit=100)
    assert [m.seq for m in stored] == list(range(1, 61))
    assert {m.content for m in stored} == {f"note {i}" for i in range(60)}


async def test_edits_of_one_message_through_two_replicas_keep_every_text(
    store: Store, two_histories: tuple[HistoryService, HistoryService, Session]
) -> None:
    one, two, session = two_histories
    owner = actor("owner")
    await one.append(owner, session.id, "draft 0")
    await asyncio.gather(
        *((one if i % 2 else two).edit(owner, session.id, 1, f"draft {i}") for i in range(1, 21))
    )
    message = await store.history.message(session.id, seq=1)
    assert message is not None
    assert [r.revision for r in message.revisions] == list(range(1, 21))
    texts = [r.content for r in message.revisions] + [message.content]
    assert sorted(texts) == sorted(f"draft {i}" for i in range(21))
    assert texts[0] == "draft 0"
