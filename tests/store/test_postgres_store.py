"""The PostgreSQL store itself: migrations, pool settings, errors, SKIP LOCKED, search, export."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from core.errors import StoreError, UsageError
from core.history.search import parse_query, search
from core.models import OutboxKind, OutboxRow, OutboxStatus, new_id
from core.records.history import MATCH_END, MATCH_START
from core.records.jobs import Reminder, ReminderKind, ReminderStatus, SendReminder
from core.store import ops
from core.store.factory import open_store
from core.store.postgres.engine import pool_settings, safe_url
from core.store.postgres.store import PostgresStore
from core.store.search import to_tsquery
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, WS, actor
from tests.pg import PgServer, new_database_name

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OWNER = actor("olga")


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _raw(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(pool_settings(url)[0])


# -- migrations and connections ----------------------------------------------------------------


async def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    current, latest = await store.schema_status()
    assert current == latest >= 4
    assert await store.migrate() == []


async def test_replicas_starting_together_migrate_an_empty_database_once(
    pg_server: PgServer,
) -> None:
    name = new_database_name()
    admin = await _raw(pg_server.url("postgres"))
    await admin.execute(f"CREATE DATABASE {name}")
    stores = [PostgresStore(pg_server.url(name)) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        versions = await stores[0].engine.fetchall("SELECT version FROM schema_migrations")
        assert sorted(r[0] for r in versions) == list(
            range(1, (await stores[0].schema_status())[1] + 1)
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


@pytest.mark.fresh_database  # it records a migration this code does not know
async def test_a_newer_database_refuses_to_start(db_url: str, store: Store) -> None:
    conn = await _raw(db_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="newer than this sessionbot"):
        await open_store(db_url).open()


def test_pool_size_comes_from_the_url_and_never_reaches_the_server() -> None:
    dsn, low, high = pool_settings("postgresql://u:p@db:5432/bot?pool_max=20&sslmode=require")
    assert (dsn, low, high) == ("postgresql://u:p@db:5432/bot?sslmode=require", 1, 20)
    assert pool_settings("postgres://db/bot?pool_size=3&pool_min=2")[1:] == (2, 3)
    with pytest.raises(ValueError, match="pool_max"):
        pool_settings("postgresql://db/bot?pool_max=zero")


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        await open_store("postgresql://bot:hunter2@127.0.0.1:1/bot").open()
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    assert safe_url("postgresql://bot@db/x") == "postgresql://bot@db/x"


async def test_close_ends_a_connection_still_in_use_after_its_timeout(db_url: str) -> None:
    """Shutdown is bounded: a query still running does not hold `close()` (asyncpg's pool
    close waits for every connection to be released)."""
    store = PostgresStore(db_url)
    await store.open()
    store.engine.close_timeout = 0.5
    started = asyncio.Event()

    async def stuck(conn: asyncpg.Connection) -> None:
        started.set()
        await conn.execute("SELECT pg_sleep(120)")

    query = asyncio.create_task(store.engine.run_raw(stuck))
    await asyncio.wait_for(started.wait(), timeout=10)
    await asyncio.wait_for(store.close(), timeout=30)  # a bound, well below the query's 120 s
    with pytest.raises(StoreError):
        await asyncio.wait_for(query, timeout=10)


async def test_a_failed_statement_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="SQLSTATE 42P01"):
        await store.engine.fetchall("SELECT * FROM no_such_table")  # type: ignore[attr-defined]


async def test_a_healthy_database_has_no_integrity_problems(store: Store) -> None:
    assert await store.integrity_problems() == []


# -- SKIP LOCKED: a row being claimed elsewhere is skipped, not waited for ---------------------


def _row(n: int) -> OutboxRow:
    return OutboxRow(
        id=new_id(), workspace=WS, kind=OutboxKind.CHANNEL_MESSAGE, target={"channel": "c"},
        payload={"n": n}, dedupe_key=f"test:{n}", status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=NOW - timedelta(minutes=10 - n), created_at=NOW,
    )  # fmt: skip


async def test_an_outbox_row_locked_by_another_replica_is_skipped_at_once(
    store: Store, db_url: str
) -> None:
    first, second = _row(1), _row(2)
    await store.apply([ops.Enqueue(first), ops.Enqueue(second)])
    other = await _raw(db_url)
    try:
        async with other.transaction():  # another replica is leasing `first` right now
            await other.execute("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", first.id)
            leased = await asyncio.wait_for(
                store.outbox.claim(workspaces=[WS], now=NOW, limit=10, lease=timedelta(minutes=1)),
                timeout=5,
            )
            assert [r.id for r in leased] == [second.id]
    finally:
        await other.close()


async def test_a_reminder_being_sent_elsewhere_is_skipped_at_once(
    store: Store, db_url: str, services: Services
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "remind")
    await store.jobs.add_reminder(
        Reminder("r1", WS, session.id, "user:olga", "ping", NOW, "olga", ReminderKind.USER,
                 ReminderStatus.SCHEDULED, NOW)
    )  # fmt: skip
    other = await _raw(db_url)
    try:
        async with other.transaction():
            await other.execute("SELECT 1 FROM reminders WHERE id = 'r1' FOR UPDATE")
            claimed = await asyncio.wait_for(
                store.jobs.apply_claimed([SendReminder("r1")], []), timeout=5
            )
            assert claimed is False
    finally:
        await other.close()
    assert await store.jobs.apply_claimed([SendReminder("r1")], []) is True
    assert await store.jobs.apply_claimed([SendReminder("r1")], []) is False


# -- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tsquery"),
    [
        ("deploy failed", "('deploy') & ('failed')"),
        ('"rolled back"', "'rolled back'"),
        ("roll*", "'roll':*"),
        ("a OR b NOT c", "('a') | (('b') & !('c'))"),
        ("(a OR b) c", "(('a') | ('b')) & ('c')"),
        ("it's", "'it''s'"),
        ('say "hi"*', "('say') & ('hi':*)"),
        ("back\\slash", "'back\\\\slash'"),
    ],
)
def test_user_queries_become_quoted_tsqueries(query: str, tsquery: str) -> None:
    assert to_tsquery(parse_query(query)).text == tsquery


async def test_search_syntax_cannot_reach_the_tsquery_parser(
    store: Store, services: Services
) -> None:
    history = services.history
    session = await services.sessions.start(OWNER, CHAT, "quoting")
    await history.append(OWNER, session.id, "it's a risky deploy & rollback | test")
    for query in ("it's", "&", "!", "deploy & rollback", "'", ":*", "a:*b", "(!x)"):
        with contextlib.suppress(UsageError):  # core's own syntax check; never a StoreError
            await search(history, OWNER, query)
    found = await search(history, OWNER, "it's")
    assert len(found.hits) == 1


async def test_phrases_are_marked_as_one_run_and_long_text_is_cut(
    store: Store, services: Services
) -> None:
    history = services.history
    session = await services.sessions.start(OWNER, CHAT, "snippets")
    words = " ".join(f"w{i}" for i in range(40))
    await history.append(OWNER, session.id, f"{words} we rolled back the release {words}")
    (hit,) = (await search(history, OWNER, '"rolled back"')).hits
    assert f"{MATCH_START}rolled back{MATCH_END}" in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


async def test_diacritics_fold_where_unaccent_is_installed(
    store: Store, services: Services
) -> None:
    row = await store.engine.fetchone(  # type: ignore[attr-defined]
        "SELECT 1 FROM pg_extension WHERE extname = 'unaccent'"
    )
    if row is None:
        pytest.skip("this server has no unaccent extension: search keeps diacritics")
    history = services.history
    session = await services.sessions.start(OWNER, CHAT, "café")
    await history.append(OWNER, session.id, "meet at the café")
    assert len((await search(history, OWNER, "cafe")).hits) == 1
    assert len((await search(history, OWNER, "CAFÉ")).hits) == 1


# -- export ------------------------------------------------------------------------------------


async def test_exported_rows_look_like_the_sqlite_stores(store: Store, services: Services) -> None:
    session = await services.sessions.start(OWNER, CHAT, "export me")
    tables = await store.jobs.export_rows(session.id)
    (row,) = tables["sessions"]
    assert row["created_at"] == session.created_at.isoformat(timespec="microseconds")
    assert isinstance(row["context"], str) and row["context"] == "{}"
    assert all("row_no" not in r and "search" not in r for rows in tables.values() for r in rows)
