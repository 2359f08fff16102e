"""`sessionbot db copy`: every row reaches the destination, verified, and a copy can be re-run."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dbcopy import copy_database
from core.clock import ManualClock
from core.history import context, export, search
from core.history.fork import fork
from core.jobs import reminders, sweep
from core.models import Decision, EventType, ModAction, Role
from core.records.idempotency import IN_PROGRESS_LEASE
from core.records.installations import InstallationRecord
from core.records.requests import RequestKind
from core.services.asks import Ask
from core.services.config import ServiceConfig
from core.store.copy import verify
from core.store.factory import open_store
from core.store.store import Store
from core.tokens import TokenService
from core.wiring import Services, build_services
from tests.bot.test_cli import sessionbot
from tests.conftest import CHAT, OTHER_WS, actor, execute

OWNER = actor("olga")


@asynccontextmanager
async def opened(url: str, clock: ManualClock) -> AsyncIterator[tuple[Store, Services]]:
    store = open_store(url)
    await store.open()
    try:
        yield store, build_services(store, clock=clock, config=ServiceConfig())
    finally:
        await store.close()


async def populate(url: str, clock: ManualClock) -> list[str]:
    """Every kind of row: sessions in two workspaces, a fork, plans and decisions, messages
    with revisions and a tombstone, TTL'd context, events, outbox, reminders, job runs, an API
    token with a stored idempotent response, a Slack installation."""
    store = open_store(url)
    await store.open()
    try:
        services = build_services(store, clock=clock, config=ServiceConfig())
        history = services.history
        s = await services.sessions.start(OWNER, CHAT, "Deploy v2.3", mode="deploy")
        await services.members.share(OWNER, s.id, "bob", role=Role.APPROVER)
        await services.plans.submit(OWNER, s.id, ["Back up", "Migrate"])
        await services.plans.decide(actor("bob"), Decision.REJECT, ref=s.id, reason="too early")
        await services.plans.submit(OWNER, s.id, ["Back up", "Migrate", "Flip"], need=1)
        await services.plans.decide(actor("bob"), Decision.APPROVE, ref=s.id)
        await services.plans.modify(OWNER, s.id, 1, ModAction.STATUS_CHANGE, "done")
        first = await history.append(OWNER, s.id, "starting the backup")
        await history.append(OWNER, s.id, "backup done ✓", parent_id=first.id)
        await history.append(OWNER, s.id, "to be deleted")
        await history.edit(OWNER, s.id, 1, "starting the backup (db-1)")
        await history.delete(OWNER, s.id, 3)
        await context.update(history, OWNER, s.id, {"env": "prod", "db": {"host": "a"}})
        await context.update(history, OWNER, s.id, {"lock": "x"}, ttl=timedelta(days=1))
        await services.progress.record_event(
            OWNER, s.id, EventType.TOOL_CALL, {"tool": "psql", "n": 1}
        )
        child = (await fork(history, OWNER, s.id)).session
        other = await services.sessions.start(actor("root", OTHER_WS), CHAT, "elsewhere")
        await services.sessions.pause(OWNER, child.id)
        await reminders.create(services, OWNER, s.id, channel_id=None, after=timedelta(hours=1))
        await reminders.create(services, OWNER, s.id, channel_id=None, after=timedelta(days=9))
        await TokenService(store.tokens, clock=clock).create("console:test", "agent", admin=True)
        await store.installations.put(
            InstallationRecord("slack", "T0001", "xoxb-secret", clock.now(), scopes=("commands",))
        )
        await store.idempotency.claim("api:t:k", "digest", now=clock.now(), lease=IN_PROGRESS_LEASE)
        await store.idempotency.finish("api:t:k", status=201, body='{"ok":true}')
        clock.advance(timedelta(days=2))
        await sweep.run(services, clock.now(), every=timedelta(minutes=1))  # reminders, job runs
        return [s.id, child.id, other.id]
    finally:
        await store.close()


async def exports(url: str, ids: list[str]) -> list[str]:
    store = open_store(url)
    await store.open()
    try:
        history = build_services(store, clock=ManualClock(), config=ServiceConfig()).history
        texts = []
        for session_id in ids:
            session = await store.sessions.by_id(session_id)
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
        report = await verify(store.copy, store.copy)
        return {t.table: t.source_rows for t in report.tables}
    finally:
        await store.close()


async def _search_hits(url: str) -> list[str]:
    """Ids of the messages a search for `db` finds (through the store's own search index)."""
    store = open_store(url)
    await store.open()
    try:
        services = build_services(store, clock=ManualClock(), config=ServiceConfig())
        hits = await search.search(services.history, actor("root", admin=True), "db")
        return sorted(hit.message_id for hit in hits.hits)
    finally:
        await store.close()


async def _stop_message_inserts(url: str, stop: bool) -> None:
    """Make the destination fail (or stop failing) half-way through a copy, at `messages`."""
    store = open_store(url)
    await store.open()
    try:
        if store.backend == "postgres":
            statements = (
                [
                    "CREATE FUNCTION stop() RETURNS trigger LANGUAGE plpgsql"
                    " AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
                    "CREATE TRIGGER stop BEFORE INSERT ON messages"
                    " FOR EACH ROW EXECUTE FUNCTION stop()",
                ]
                if stop
                else ["DROP TRIGGER stop ON messages", "DROP FUNCTION stop()"]
            )
        else:
            statements = [
                "CREATE TRIGGER stop BEFORE INSERT ON messages"
                " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                if stop
                else "DROP TRIGGER stop"
            ]
        for statement in statements:
            await execute(store, statement)
    finally:
        await store.close()


async def test_round_trip_through_the_other_backend_keeps_every_row(
    tmp_path: Path, clock: ManualClock, db_url: str
) -> None:
    """SQLite → `db_url` (SQLite or PostgreSQL) → SQLite: exports, counts, search equal."""
    source = f"sqlite:///{tmp_path / 'a.db'}"
    back = f"sqlite:///{tmp_path / 'c.db'}"
    ids = await populate(source, clock)
    assert await copy_database(source, db_url) == 0
    assert await copy_database(db_url, back) == 0
    original = await exports(source, ids)
    assert await exports(db_url, ids) == original
    assert await exports(back, ids) == original
    copied = await counts(back)
    assert copied == await counts(source) == await counts(db_url)
    for table in ("sessions", "plans", "approvals", "messages", "message_revisions", "events"):
        assert copied[table] > 0, table
    assert copied["outbox"] > 0 and copied["reminders"] > 0 and copied["job_runs"] > 0
    for table in ("api_tokens", "api_responses", "installations", "inbound_dedupe"):
        assert copied[table] == 1, table
    hits = await _search_hits(source)
    assert hits and await _search_hits(db_url) == hits == await _search_hits(back)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        parents = conn.execute("SELECT COUNT(*) FROM sessions WHERE parent_id IS NOT NULL")
        assert parents.fetchone()[0] == 1


async def test_new_rows_after_a_copy_get_fresh_keys(
    tmp_path: Path, clock: ManualClock, db_url: str
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    ids = await populate(source, clock)
    assert await copy_database(source, db_url) == 0
    store = open_store(db_url)
    await store.open()
    try:
        services = build_services(store, clock=clock, config=ServiceConfig())
        history = services.history
        await services.sessions.resume(OWNER, ids[0])  # the sweep abandoned it
        await services.progress.record_event(OWNER, ids[0], EventType.TOOL_CALL, {"after": "copy"})
        await history.append(OWNER, ids[0], "written after the copy")
        events = await store.events.newest(ids[0], limit=500)  # a key clash would have raised above
        assert [e.data for e in events].count({"after": "copy"}) == 1
    finally:
        await store.close()


async def test_an_interrupted_copy_can_be_run_again(
    tmp_path: Path, clock: ManualClock, db_url: str
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    ids = await populate(source, clock)
    await counts(db_url)  # migrated
    await _stop_message_inserts(db_url, True)
    failed = sessionbot(tmp_path / "env.db", "db", "copy", source, db_url)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "sessionbot:" in failed.stderr  # one line saying what failed
    partial = await counts(db_url)
    assert partial["sessions"] == 3 and partial["messages"] == 0
    await _stop_message_inserts(db_url, False)
    again = sessionbot(tmp_path / "env.db", "db", "copy", source, db_url)
    assert again.returncode == 0, again.stderr
    assert "counts and checksums equal" in again.stdout
    assert await exports(db_url, ids) == await exports(source, ids)


async def test_a_destination_that_differs_is_reported_by_table(
    tmp_path: Path, clock: ManualClock, db_url: str
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    await populate(source, clock)
    assert await copy_database(source, db_url) == 0
    store = open_store(db_url)
    await store.open()
    try:
        await execute(store, "UPDATE sessions SET title = 'changed' WHERE ref = 1")
    finally:
        await store.close()
    result = sessionbot(tmp_path / "env.db", "db", "copy", source, db_url)
    assert result.returncode == 1
    assert "MISMATCH sessions" in result.stderr and "MISMATCH plans" not in result.stderr


async def test_copy_into_itself_is_refused(db_url: str) -> None:
    assert await copy_database(db_url, db_url) == 2


async def test_text_postgresql_cannot_store_is_named_not_half_copied(
    tmp_path: Path, clock: ManualClock, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    async with opened(source, clock) as (_, services):
        await services.sessions.start(OWNER, CHAT, "a NUL \u0000 in the title")
    result = await copy_database(source, db_url)
    if db_url.startswith("sqlite"):
        assert result == 0
    else:
        assert result == 1
        assert "sessions holds a NUL character" in capsys.readouterr().err
        assert (await counts(db_url))["sessions"] == 0


async def test_requests_their_votes_and_messages_are_copied_parents_first(
    tmp_path: Path, clock: ManualClock, db_url: str
) -> None:
    """A vote and a posted message refer to their request: the request must be in first."""
    source = f"sqlite:///{tmp_path / 'a.db'}"
    async with opened(source, clock) as (store, services):
        s = await services.sessions.start(OWNER, CHAT, "Deploy v2.4")
        await services.members.share(OWNER, s.id, "bob", role=Role.APPROVER)
        ask = Ask(RequestKind.ACTION, action="deploy", args={"service": "api"}, need=2)
        request = await services.requests.create(OWNER, str(s.ref), ask)
        await services.requests.decide(actor("bob"), request.id, Decision.APPROVE)
        await store.requests.add_message(
            request.id, platform="slack", channel_id="C1", message_ref="1.2"
        )
    assert await copy_database(source, db_url) == 0
    copied = await counts(db_url)
    assert copied == await counts(source)
    assert (copied["requests"], copied["request_votes"], copied["request_messages"]) == (1, 1, 1)
