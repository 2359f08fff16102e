"""The PostgreSQL database the tests share within a process: emptied between tests, as if new."""

from __future__ import annotations

import asyncpg
import pytest

from core.clock import ManualClock
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.store.postgres.engine import pool_settings
from core.wiring import build_services
from tests.conftest import CHAT, PgDatabase, actor, reset_database
from tests.pg import SCHEMA_FINGERPRINT

TABLES = (
    "SELECT tablename FROM pg_tables"
    " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
)


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(pool_settings(url)[0])


async def _start_sessions(url: str, n: int) -> None:
    store = open_store(url)
    await store.open()
    try:
        services = build_services(store, clock=ManualClock(), config=ServiceConfig())
        for i in range(n):
            await services.sessions.start(actor("olga"), CHAT, f"topic {i}")
    finally:
        await store.close()


async def _rows(conn: asyncpg.Connection) -> dict[str, int]:
    tables = [r[0] for r in await conn.fetch(TABLES)]
    return {t: int(await conn.fetchval(f'SELECT COUNT(*) FROM "{t}"')) for t in tables}


async def test_reset_empties_every_table_restarts_ids_and_ends_leftover_connections(
    db_url: str, pg_database: PgDatabase
) -> None:
    await _start_sessions(db_url, 3)
    leftover = await _connect(db_url)  # a connection an earlier test forgot, holding a lock
    await leftover.execute("SELECT pg_advisory_lock(42); LISTEN anything")
    await leftover.execute("BEGIN; LOCK TABLE sessions IN ACCESS SHARE MODE")
    conn = await _connect(db_url)
    try:
        migrations = await conn.fetch("SELECT * FROM schema_migrations ORDER BY version")
        assert (await _rows(conn))["sessions"] == 3
        assert await conn.fetchval("SELECT MAX(event_no) FROM events") >= 3
    finally:
        await conn.close()

    await reset_database(pg_database.server, pg_database.name, pg_database.fingerprint)

    assert leftover.is_closed() or not await _alive(leftover)
    conn = await _connect(db_url)
    try:
        assert set((await _rows(conn)).values()) == {0}
        assert await conn.fetch("SELECT * FROM schema_migrations ORDER BY version") == migrations
        assert await conn.fetchval("SELECT pg_try_advisory_lock(42)") is True
        await _start_sessions(db_url, 1)
        assert await conn.fetchval("SELECT MIN(event_no) FROM events") == 1
    finally:
        await conn.close()
        leftover.terminate()


async def test_ids_restart_even_where_every_row_was_already_deleted(
    db_url: str, pg_database: PgDatabase
) -> None:
    await _start_sessions(db_url, 2)
    conn = await _connect(db_url)
    try:
        await conn.execute("SET session_replication_role = replica")  # no foreign key order
        for table in [r[0] for r in await conn.fetch(TABLES)]:
            await conn.execute(f'DELETE FROM "{table}"')
        assert set((await _rows(conn)).values()) == {0}
    finally:
        await conn.close()

    await reset_database(pg_database.server, pg_database.name, pg_database.fingerprint)

    await _start_sessions(db_url, 1)
    conn = await _connect(db_url)
    try:
        assert await conn.fetchval("SELECT MIN(event_no) FROM events") == 1
    finally:
        await conn.close()


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
        return False
    return True


async def test_a_schema_changed_by_a_test_is_replaced_by_a_fresh_copy(
    db_url: str, pg_database: PgDatabase
) -> None:
    conn = await _connect(db_url)
    try:
        await conn.execute(
            "CREATE FUNCTION stop() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;"
            " CREATE TRIGGER stop BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION stop();"
            " INSERT INTO schema_migrations (version, name) VALUES (999, 'future')"
        )
        assert await conn.fetchval(SCHEMA_FINGERPRINT) != pg_database.fingerprint
    finally:
        await conn.close()

    await reset_database(pg_database.server, pg_database.name, pg_database.fingerprint)

    conn = await _connect(db_url)
    try:
        assert await conn.fetchval(SCHEMA_FINGERPRINT) == pg_database.fingerprint
        assert await conn.fetchval("SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'stop'") == 0
    finally:
        await conn.close()
    await _start_sessions(db_url, 1)  # opens: no migration newer than the code is recorded


@pytest.mark.fresh_database
async def test_a_fresh_database_is_a_copy_of_the_template_of_its_own(
    db_url: str, pg_database: PgDatabase
) -> None:
    assert db_url != pg_database.url
    conn = await _connect(db_url)
    try:
        assert await conn.fetchval(SCHEMA_FINGERPRINT) == pg_database.fingerprint
        assert set((await _rows(conn)).values()) == {0}
    finally:
        await conn.close()
