"""The SQLite store itself: migrations, version guard, pragmas, memory databases, dedupe."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import StoreError
from core.models import ChatRef
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services
from tests.conftest import actor


@pytest.fixture
def backend() -> str:
    """These tests are about the SQLite file itself."""
    return "sqlite"


async def test_migrations_are_recorded_and_idempotent(store: SqliteStore) -> None:
    current, latest = await store.schema_status()
    assert current == latest >= 1
    assert await store.migrate() == []


async def test_a_newer_database_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    store = SqliteStore(db_url)
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    with pytest.raises(StoreError, match="newer than this sessionbot"):
        await SqliteStore(db_url).open()


async def test_wal_foreign_keys_and_private_file(store: SqliteStore, tmp_path: Path) -> None:
    mode = await store.engine.run_raw(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    fks = await store.engine.run_raw(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0])
    assert (mode, fks) == ("wal", 1)
    assert ((tmp_path / "sessions.db").stat().st_mode & 0o777) == 0o600


async def test_memory_database_works_end_to_end() -> None:
    store = SqliteStore("sqlite:///:memory:")
    await store.open()
    try:
        services = build_services(store)
        owner = actor("owner")
        session = await services.sessions.start(
            owner, ChatRef("console", owner.workspace, "c"), "in memory"
        )
        assert (await services.sessions.show(owner, str(session.ref))).session.title == "in memory"
    finally:
        await store.close()


async def test_inbound_dedupe_claims_a_key_once(store: SqliteStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert await store.inbound.claim("slack:trigger-1", now)
    assert not await store.inbound.claim("slack:trigger-1", now)
    assert await store.inbound.purge(datetime(2026, 1, 3, tzinfo=UTC)) == 1
    assert await store.inbound.claim("slack:trigger-1", now)


async def test_one_failing_unit_does_not_roll_back_its_batch_neighbours(
    store: SqliteStore,
) -> None:
    import asyncio

    def good(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO inbound_dedupe VALUES ('good', 'x')")

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO inbound_dedupe VALUES ('bad', 'x')")
        raise RuntimeError("this unit fails after writing")

    results = await asyncio.gather(
        store.engine.write(good), store.engine.write(bad), store.engine.write(good),
        return_exceptions=True,
    )  # fmt: skip
    assert isinstance(results[1], RuntimeError)
    keys = [r[0] for r in await store.engine.fetchall("SELECT key FROM inbound_dedupe")]
    assert keys == ["good"]
    assert isinstance(results[2], StoreError)  # same key again: constraint error, translated


async def test_reads_run_on_a_read_only_connection_and_survive_a_failed_one(
    store: SqliteStore,
) -> None:
    services = build_services(store)
    owner = actor("owner")
    await services.sessions.start(owner, ChatRef("console", owner.workspace, "c"), "kept")
    with pytest.raises(StoreError, match="Database read failed"):
        await store.engine.fetchall("DELETE FROM sessions")
    with pytest.raises(StoreError, match="Database read failed"):
        await store.engine.fetchall("SELECT * FROM no_such_table")
    reads = [store.engine.fetchall("SELECT title FROM sessions") for _ in range(50)]
    assert [list(r) for rows in await asyncio.gather(*reads) for r in rows] == [["kept"]] * 50


async def test_a_read_after_close_is_refused(store: SqliteStore) -> None:
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.engine.fetchall("SELECT 1")
    await store.open()  # the fixture closes it again
