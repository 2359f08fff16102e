"""`store.jobs`, `store.subscriptions` and `store.webhooks`: slots and claims happen once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from core.models import OutboxKind, Status
from core.records.jobs import (
    ClaimReminder,
    ClaimSlot,
    MarkSummarySent,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SendReminder,
    Subscription,
    WebhookSubscription,
)
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import LEASE, NOW, event, new_session, outbox_row


def _reminder(rid: str, session_id: str | None, due: datetime = NOW, **fields: object) -> Reminder:
    values: dict[str, object] = {
        "id": rid, "workspace": WS, "session_id": session_id, "target": "user:olga",
        "text": "ping", "due_at": due, "created_by": "olga", "kind": ReminderKind.USER,
        "status": ReminderStatus.SCHEDULED, "created_at": NOW,
    }  # fmt: skip
    values.update(fields)
    return Reminder(**values)  # type: ignore[arg-type]


def _webhook(wid: str, workspace: str = WS, minutes: int = 0) -> WebhookSubscription:
    return WebhookSubscription(
        wid, workspace, "https://hooks.example.com/x", "s3cret", ("session.created",), "olga",
        NOW + timedelta(minutes=minutes),
    )  # fmt: skip


# -- job slots ------------------------------------------------------------------------------


async def test_a_slot_is_claimed_once_across_two_stores(store: Store, second: Store) -> None:
    slots = [NOW + timedelta(minutes=m) for m in range(15)]
    won = await asyncio.gather(
        *(
            s.jobs.apply_claimed([ClaimSlot("sweep", slot, owner, NOW)], [])
            for slot in slots
            for s, owner in ((store, "one"), (second, "two"), (store, "three"))
        )
    )
    for n in range(len(slots)):
        assert sorted(won[3 * n : 3 * n + 3]) == [False, False, True], n
    (run,) = await store.jobs.runs()
    assert (run.job, run.slot, run.finished_at) == ("sweep", slots[-1], None)


async def test_a_lost_claim_writes_nothing_of_its_unit(store: Store) -> None:
    session = await new_session(store)
    assert await store.jobs.apply_claimed(
        [ClaimSlot("sweep", NOW, "one", NOW)], [ops.AddEvent(event(session.id, 1))]
    )
    assert not await store.jobs.apply_claimed(
        [ClaimSlot("other", NOW, "two", NOW), ClaimSlot("sweep", NOW, "two", NOW)],
        [ops.AddEvent(event(session.id, 2)), ops.Enqueue(outbox_row(2))],
    )
    assert [e.data for e in await store.events.newest(session.id, limit=5)] == [{"n": 1}]
    assert not await store.outbox.is_pending("row:2")
    assert [r.job for r in await store.jobs.runs()] == ["sweep"], "the first claim rolled back"


async def test_runs_show_the_latest_slot_finished_and_purge_drops_old_claims(
    store: Store,
) -> None:
    early, late = NOW, NOW + timedelta(hours=1)
    for slot in (late, early):
        assert await store.jobs.apply_claimed([ClaimSlot("sweep", slot, "one", slot)], [])
    await store.jobs.finish("sweep", late, at=late + timedelta(seconds=3))
    (run,) = await store.jobs.runs()
    assert (run.slot, run.claimed_by, run.claimed_at, run.finished_at) == (
        late, "one", late, late + timedelta(seconds=3),
    )  # fmt: skip
    assert await store.jobs.purge_runs(late) == 1
    assert await store.jobs.purge_runs(late) == 0
    assert [r.slot for r in await store.jobs.runs()] == [late]


async def test_a_reminder_is_sent_once_across_two_stores(store: Store, second: Store) -> None:
    session = await new_session(store)
    for n in range(10):
        await store.jobs.add_reminder(_reminder(f"r{n}", session.id))
    sent = await asyncio.gather(
        *(
            s.jobs.apply_claimed([SendReminder(f"r{n}")], [ops.AddEvent(event(session.id, n))])
            for n in range(10)
            for s in (store, second)
        )
    )
    for n in range(10):
        assert sorted(sent[2 * n : 2 * n + 2]) == [False, True], n
    assert len(await store.events.newest(session.id, limit=100)) == 10
    assert await store.jobs.due_reminders(NOW, limit=100) == []


async def test_an_automatic_reminder_is_claimed_once(store: Store, second: Store) -> None:
    session = await new_session(store)
    auto = _reminder("auto:1", session.id, kind=ReminderKind.AUTO_PENDING,
                     status=ReminderStatus.SENT)  # fmt: skip
    won = await asyncio.gather(
        *(s.jobs.apply_claimed([ClaimReminder(auto)], []) for s in (store, second, store))
    )
    assert sorted(won) == [False, False, True]


async def test_due_reminders_are_scheduled_ones_due_by_now_oldest_first(store: Store) -> None:
    session = await new_session(store)
    for rid, due in (("b", NOW), ("a", NOW - timedelta(minutes=1)), ("c", NOW + timedelta(1))):
        await store.jobs.add_reminder(_reminder(rid, session.id, due))
    await store.jobs.add_reminder(_reminder("a", None, NOW - timedelta(days=9)))  # kept: first
    assert [r.id for r in await store.jobs.due_reminders(NOW, limit=10)] == ["a", "b"]
    assert [r.id for r in await store.jobs.due_reminders(NOW, limit=1)] == ["a"]


# -- subscriptions ------------------------------------------------------------------------------


async def test_a_subscription_is_one_per_channel_and_keeps_its_last_sending(store: Store) -> None:
    sub = Subscription(WS, "C1", "daily 09:00", "UTC", "olga", NOW)
    await store.subscriptions.put(sub)
    assert await store.jobs.apply_claimed([MarkSummarySent(WS, "C1", NOW)], [])
    await store.subscriptions.put(Subscription(WS, "C1", "weekly mon 10:00", "Europe/Kyiv",
                                               "ivan", NOW + timedelta(days=1)))  # fmt: skip
    await store.subscriptions.put(Subscription(OTHER_WS, "C1", "daily 08:00", "UTC", "zoe", NOW))
    (found,) = await store.subscriptions.every(WS)
    assert (found.schedule, found.timezone, found.created_by, found.last_sent_at) == (
        "weekly mon 10:00", "Europe/Kyiv", "ivan", NOW,
    )  # fmt: skip
    assert len(await store.subscriptions.every()) == 2
    assert await store.subscriptions.remove(WS, "C1")
    assert not await store.subscriptions.remove(WS, "C1")
    assert await store.subscriptions.every(WS) == []


# -- webhooks ---------------------------------------------------------------------------------


async def test_webhooks_read_back_and_are_removed_by_a_unique_prefix(store: Store) -> None:
    one, two, other = _webhook("abc1"), _webhook("abd2", minutes=1), _webhook("abc3", OTHER_WS)
    for w in (two, one, other):
        await store.webhooks.add(w)
    assert await store.webhooks.get("abc1") == one
    assert await store.webhooks.get("nope") is None
    assert await store.webhooks.in_workspace(WS) == [one, two]
    assert await store.webhooks.remove(WS, "ab") is None, "ambiguous"
    assert await store.webhooks.remove(WS, "zz") is None
    assert await store.webhooks.remove(WS, "abc") == one, "abc3 is another workspace's"
    assert await store.webhooks.remove(WS, "abc") is None
    assert await store.webhooks.in_workspace(WS) == [two]


async def test_webhook_rows_are_leased_once_until_the_lease_runs_out(
    store: Store, second: Store
) -> None:
    rows = [outbox_row(n, kind=OutboxKind.WEBHOOK, workspace=f"any:{n}") for n in range(30)]
    await store.apply([ops.Enqueue(r) for r in rows])
    await store.apply([ops.Enqueue(outbox_row(99))])  # a chat row: not a webhook's
    taken = await asyncio.gather(
        *(s.webhooks.claim_rows(now=NOW, limit=4, lease=LEASE) for s in (store, second) * 6)
    )
    ids = [r.id for batch in taken for r in batch]
    assert all(len(batch) <= 4 for batch in taken)
    assert len(ids) == len(set(ids))
    assert set(ids) <= {r.id for r in rows}
    rest = await store.webhooks.claim_rows(now=NOW, limit=100, lease=LEASE)
    assert len(ids) + len(rest) == len(rows)
    assert await second.webhooks.claim_rows(now=NOW + LEASE - timedelta(microseconds=1),
                                            limit=100, lease=LEASE) == []  # fmt: skip
    again = await second.webhooks.claim_rows(now=NOW + LEASE, limit=100, lease=LEASE)
    assert len(again) == len(rows)


async def test_undelivered_webhooks_of_a_modification_count_the_others(store: Store) -> None:
    prefix = "webhook:modification:m1:"
    rows = [outbox_row(n, kind=OutboxKind.WEBHOOK, dedupe_key=f"{prefix}{n}") for n in range(3)]
    await store.apply([ops.Enqueue(r) for r in rows])
    await store.apply([ops.Enqueue(outbox_row(9, dedupe_key="webhook:modification:m10:1"))])
    assert await store.webhooks.undelivered("m1", except_row=rows[0].id) == 2
    await store.outbox.delivered(rows[1].id, now=NOW, result_ref=None)
    assert await store.webhooks.undelivered("m1", except_row=rows[0].id) == 1
    assert await store.webhooks.undelivered("m2", except_row=rows[0].id) == 0


async def test_due_abandon_is_open_sessions_past_their_deadline_oldest_first(
    store: Store,
) -> None:
    late = await new_session(store, abandon_at=NOW - timedelta(minutes=1))
    due = await new_session(store, abandon_at=NOW)
    await new_session(store, abandon_at=NOW + timedelta(microseconds=1))
    await new_session(store, abandon_at=NOW - timedelta(hours=1), status=Status.COMPLETED)
    await new_session(store, abandon_at=None)
    other = await new_session(store, workspace=OTHER_WS, abandon_at=NOW - timedelta(hours=2))
    found = await store.jobs.due_abandon(NOW, limit=10)
    assert [s.id for s in found] == [other.id, late.id, due.id]
    assert [s.id for s in await store.jobs.due_abandon(NOW, limit=1)] == [other.id]


async def test_only_an_unchanged_archived_session_is_deleted(store: Store) -> None:
    archived = await new_session(store, status=Status.ARCHIVED, version=3)
    active = await new_session(store)
    assert not await store.jobs.delete_archived(archived.id, version=2)
    assert not await store.jobs.delete_archived(active.id, version=active.version)
    assert await store.jobs.delete_archived(archived.id, version=3)
    assert not await store.jobs.delete_archived(archived.id, version=3)
    assert await store.sessions.by_id(archived.id) is None
    assert await store.sessions.by_id(active.id) is not None
