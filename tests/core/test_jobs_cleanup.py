"""Cleanup exports before it deletes, and keeps what it could not export; maintenance purges."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import timedelta
from pathlib import Path

from core.clock import ManualClock
from core.jobs import cleanup, maintenance
from core.models import Decision, Role, Session
from core.records.requests import RequestKind
from core.services.asks import Ask
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER = actor("owner")


async def _archived(services: Services, title: str) -> Session:
    session = await services.sessions.start(OWNER, CHAT, title)
    message = await services.history.append(OWNER, str(session.ref), f"note on {title}")
    await services.history.edit(OWNER, str(session.ref), message.seq, f"edited note on {title}")
    await services.plans.submit(OWNER, str(session.ref), ["one", "two"])
    await services.sessions.cancel(OWNER, str(session.ref), reason="not needed")
    return await services.sessions.archive(OWNER, str(session.ref))


async def test_cleanup_writes_a_readable_export_then_deletes_every_row(
    services: Services, store: SqliteStore, clock: ManualClock, tmp_path: Path
) -> None:
    old = await _archived(services, "old one")
    clock.advance(timedelta(days=20))
    recent = await _archived(services, "recent one")
    clock.advance(timedelta(days=10, seconds=1))  # old: 30d past archival, recent: 10d
    report = await cleanup.run(services, clock.now(), archive_dir=tmp_path)
    assert report is not None and (report.exported, report.deleted, report.failed) == (1, 1, 0)
    path = cleanup.archive_path(tmp_path, old)
    with gzip.open(path, "rt", encoding="utf-8") as export:
        data = json.load(export)
    assert data["format"] == cleanup.FORMAT and data["session_id"] == old.id
    tables = data["tables"]
    assert tables["sessions"][0]["title"] == "old one"
    assert [i["title"] for i in tables["plan_items"]] == ["one", "two"]
    assert {e["type"] for e in tables["events"]} >= {"created", "cancelled", "archived"}
    assert tables["outbox"] and tables["members"][0]["user_id"] == "owner"
    assert [m["content"] for m in tables["messages"]] == ["edited note on old one"]
    assert [r["content"] for r in tables["message_revisions"]] == ["note on old one"]
    for table in ("sessions", "events", "plans", "outbox", "members", "messages"):
        key = "id" if table == "sessions" else "session_id"
        assert await count(store, table, f"{key} = ?", old.id) == 0, table
    assert await store.sessions.by_id(recent.id) is not None
    assert await count(store, "plan_items") == 2, "only the recent session's items remain"


async def test_the_export_keeps_the_sessions_requests_votes_and_their_messages(
    services: Services, store: SqliteStore, clock: ManualClock, tmp_path: Path
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "with a request")
    await services.members.share(OWNER, str(session.ref), "ana", role=Role.APPROVER)
    ask = Ask(RequestKind.ACTION, action="deploy", args={"service": "api"}, need=2)
    request = await services.requests.create(OWNER, str(session.ref), ask)
    await services.requests.decide(actor("ana"), request.id, Decision.APPROVE)
    await store.requests.add_message(request.id, platform="slack", channel_id="C1", message_ref="1")
    tables = await store.jobs.export_rows(session.id)
    assert [(r["id"], r["action"]) for r in tables["requests"]] == [(request.id, "deploy")]
    assert [(v["user_id"], v["decision"]) for v in tables["request_votes"]] == [("ana", "approve")]
    assert [m["message_ref"] for m in tables["request_messages"]] == ["1"]


async def test_cleanup_deletes_nothing_it_could_not_export(
    services: Services, store: SqliteStore, clock: ManualClock, tmp_path: Path
) -> None:
    session = await _archived(services, "keep me")
    clock.advance(timedelta(days=31))
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the archive folder should be")
    report = await cleanup.run(services, clock.now(), archive_dir=blocked)
    assert report is not None and (report.deleted, report.failed) == (0, 1)
    assert await store.sessions.by_id(session.id) is not None

    async def broken(services: Services, session: Session, now: object) -> dict[str, str]:
        raise RuntimeError("exporter crashed")

    report = await cleanup.run(services, clock.now(), archive_dir=tmp_path, exporter=broken)
    assert report is not None and (report.deleted, report.failed) == (0, 1)
    assert await store.sessions.by_id(session.id) is not None
    assert not any(path.suffix == ".gz" for path in await asyncio.to_thread(_files, tmp_path))


async def test_scheduled_cleanup_and_maintenance_run_once_per_slot(
    services: Services, store: SqliteStore, clock: ManualClock, tmp_path: Path
) -> None:
    slot = clock.now()
    first = await cleanup.run(services, clock.now(), archive_dir=tmp_path, slot=slot)
    again = await cleanup.run(services, clock.now(), archive_dir=tmp_path, slot=slot)
    assert first is not None and again is None
    await store.inbound.claim("slack:old", clock.now())
    clock.advance(timedelta(hours=25))
    await store.inbound.claim("slack:new", clock.now())
    report = await maintenance.run(services, clock.now(), slot=clock.now())
    assert report is not None and report.inbound_purged == 1
    assert await maintenance.run(services, clock.now(), slot=clock.now()) is None
    assert await count(store, "inbound_dedupe") == 1


def _files(root: Path) -> list[Path]:
    return list(root.rglob("*"))
