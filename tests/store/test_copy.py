"""`sessionbot db copy`: every row reaches the destination, verified, and a copy can be re-run."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import cast

from bot.dbcopy import copy_database
from core.clock import ManualClock
from core.history import context, export
from core.history.fork import fork
from core.history.messages import HistoryService
from core.jobs import reminders, sweep
from core.models import Decision, EventType, ModAction, Role
from core.service import ServiceConfig, SessionService
from core.store.base import open_store
from core.store.copy import CopyTarget, verify
from tests.bot.test_cli import sessionbot
from tests.conftest import CHAT, OTHER_WS, actor

OWNER = actor("olga")


async def populate(url: str, clock: ManualClock) -> list[str]:
    """Every kind of row: sessions in two workspaces, a fork, plans and decisions, messages
    with revisions and a tombstone, TTL'd context, events, outbox, reminders, job runs."""
    store = open_store(url)
    await store.open()
    try:
        service = SessionService(store, clock=clock, config=ServiceConfig())
        history = HistoryService(service)
        s = await service.start(OWNER, CHAT, "Deploy v2.3", mode="deploy")
        await service.share(OWNER, s.id, "bob", role=Role.APPROVER)
        await service.submit_plan(OWNER, s.id, ["Back up", "Migrate"])
        await service.decide(actor("bob"), Decision.REJECT, ref=s.id, reason="too early")
        await service.submit_plan(OWNER, s.id, ["Back up", "Migrate", "Flip"], need=1)
        await service.decide(actor("bob"), Decision.APPROVE, ref=s.id)
        await service.modify(OWNER, s.id, 1, ModAction.STATUS_CHANGE, "done")
        first = await history.append(OWNER, s.id, "starting the backup")
        await history.append(OWNER, s.id, "backup done ✓", parent_id=first.id)
        await history.append(OWNER, s.id, "to be deleted")
        await history.edit(OWNER, s.id, 1, "starting the backup (db-1)")
        await history.delete(OWNER, s.id, 3)
        await context.update(history, OWNER, s.id, {"env": "prod", "db": {"host": "a"}})
        await context.update(history, OWNER, s.id, {"lock": "x"}, ttl=timedelta(days=1))
        await service.record_event(OWNER, s.id, EventType.TOOL_CALL, {"tool": "psql", "n": 1})
        child = (await fork(history, OWNER, s.id)).session
        other = await service.start(actor("root", OTHER_WS), CHAT, "elsewhere")
        await service.pause(OWNER, child.id)
        await reminders.create(service, OWNER, s.id, channel_id=None, after=timedelta(hours=1))
        await reminders.create(service, OWNER, s.id, channel_id=None, after=timedelta(days=9))
        clock.advance(timedelta(days=2))
        await sweep.run(service, clock.now(), every=timedelta(minutes=1))  # reminders, job runs
        return [s.id, child.id, other.id]
    finally:
        await store.close()


async def exports(url: str, ids: list[str]) -> list[str]:
    store = open_store(url)
    await store.open()
    try:
        history = HistoryService(SessionService(store, clock=ManualClock(), config=ServiceConfig()))
        texts = []
        for session_id in ids:
            session = await store.session_by_id(session_id)
            assert session is not None
            who = actor("root", session.workspace, admin=True)
            texts.append("".join([c async for c in export.json_chunks(history, who, session_id)]))
        return texts
    finally:
        await store.close()


async def counts(url: str) -> dict[str, int]:
    store = open_store(url)
    await store.open()
    try:
        copyable = cast(CopyTarget, store)
        report = await verify(copyable, copyable)
        return {t.table: t.source_rows for t in report.tables}
    finally:
        await store.close()


async def test_copy_moves_every_row_and_exports_stay_equal(
    tmp_path: Path, clock: ManualClock
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target = f"sqlite:///{tmp_path / 'b.db'}"
    ids = await populate(source, clock)
    assert await copy_database(source, target) == 0
    assert await exports(target, ids) == await exports(source, ids)
    copied = await counts(target)
    assert copied == await counts(source)
    for table in ("sessions", "plans", "approvals", "messages", "message_revisions", "events"):
        assert copied[table] > 0, table
    assert copied["outbox"] > 0 and copied["reminders"] > 0 and copied["job_runs"] > 0
    found = []
    for name in ("a.db", "b.db"):
        with sqlite3.connect(tmp_path / name) as conn:
            parents = conn.execute("SELECT COUNT(*) FROM sessions WHERE parent_id IS NOT NULL")
            assert parents.fetchone()[0] == 1
            hits = conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'db'")
            found.append(sorted(r[0] for r in hits))
    assert found[0] and found[1] == found[0]  # the search index was rebuilt from the copied rows


async def test_an_interrupted_copy_can_be_run_again(tmp_path: Path, clock: ManualClock) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target_path = tmp_path / "b.db"
    target = f"sqlite:///{target_path}"
    ids = await populate(source, clock)
    assert sessionbot(target_path, "db", "migrate").returncode == 0
    with sqlite3.connect(target_path) as conn:  # the destination fails half-way through
        conn.execute(
            "CREATE TRIGGER stop BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk'); END"
        )
    failed = sessionbot(target_path, "db", "copy", source, target)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert (await counts(target))["sessions"] == 3 and (await counts(target))["messages"] == 0
    with sqlite3.connect(target_path) as conn:
        conn.execute("DROP TRIGGER stop")
    again = sessionbot(target_path, "db", "copy", source, target)
    assert again.returncode == 0, again.stderr
    assert "counts and checksums equal" in again.stdout
    assert await exports(target, ids) == await exports(source, ids)


async def test_a_destination_that_differs_is_reported_by_table(
    tmp_path: Path, clock: ManualClock
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target_path = tmp_path / "b.db"
    target = f"sqlite:///{target_path}"
    await populate(source, clock)
    assert await copy_database(source, target) == 0
    with sqlite3.connect(target_path) as conn:
        conn.execute("UPDATE sessions SET title = 'changed' WHERE ref = 1")
    result = sessionbot(target_path, "db", "copy", source, target)
    assert result.returncode == 1
    assert "MISMATCH sessions" in result.stderr and "MISMATCH plans" not in result.stderr


async def test_copy_into_itself_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert await copy_database(url, url) == 2
