"""Shared fixtures: a real database per test, a manual clock, the service and runner.

The database is a SQLite file; tests/core and tests/store also run every test on PostgreSQL
(their conftest parametrises `backend`): this process's own database, emptied before each test,
or a fresh copy of the template for a test marked `fresh_database`, see tests/pg.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from core.clock import ManualClock
from core.models import Actor, ChatRef, Source
from core.runner import CommandRunner
from core.services.config import ServiceConfig
from core.store.factory import open_store
from core.store.store import Store
from core.wiring import Services, build_services
from tests.pg import (
    EMPTY_APPLICATION_TABLES,
    END_OTHER_CONNECTIONS,
    SCHEMA_FINGERPRINT,
    TEMPLATE,
    PgServer,
    find_bin_dir,
    new_database_name,
    unavailable,
)

T = TypeVar("T")
BACKENDS = ["sqlite", "postgres"]

WS = "console:test"
OTHER_WS = "console:other"
CHAT = ChatRef("console", WS, "general")


def actor(user: str, workspace: str = WS, *, admin: bool = False) -> Actor:
    return Actor(workspace, user, Source.CONSOLE, platform_admin=admin)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _run_async(coro: Any) -> Any:
    """Run a coroutine to completion on its own loop (from sync fixtures, whatever loop runs)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(server: PgServer, sql: str) -> None:
    conn = await asyncpg.connect(server.dsn("postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _copy_template(server: PgServer, name: str) -> None:
    await _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _admin(server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")


async def _fingerprint(server: PgServer, name: str) -> str:
    conn = await asyncpg.connect(server.dsn(name))
    try:
        return str(await conn.fetchval(SCHEMA_FINGERPRINT))
    finally:
        await conn.close()


async def reset_database(server: PgServer, name: str, template: str) -> None:
    """Empty this process's database; copy the template again if a test changed its schema."""
    conn = await asyncpg.connect(server.dsn(name))
    try:
        await conn.execute(END_OTHER_CONNECTIONS)
        if await conn.fetchval(SCHEMA_FINGERPRINT) == template:
            await conn.execute(EMPTY_APPLICATION_TABLES)
            return
    finally:
        await conn.close()
    await _copy_template(server, name)


async def _migrate_template(server: PgServer) -> None:
    await _admin(server, f"CREATE DATABASE {TEMPLATE}")
    template = open_store(server.url(TEMPLATE))
    await template.open()
    await template.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole run, with a migrated template database."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (or $PG_BIN_DIR)")
        raise AssertionError("unreachable")
    server = PgServer.start(bin_dir)
    try:
        _run_async(_migrate_template(server))
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class PgDatabase:
    """This test process's database on the tests' server, and its schema's fingerprint."""

    server: PgServer
    name: str
    fingerprint: str

    @property
    def url(self) -> str:
        return self.server.url(self.name)


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> PgDatabase:
    """One database per test process, copied once from the template (see `db_url`)."""
    name = f"sessionbot_test_{os.getpid()}"
    _run_async(_copy_template(pg_server, name))
    return PgDatabase(pg_server, name, _run_async(_fingerprint(pg_server, name)))


@pytest.fixture
def fresh_pg_url(pg_server: PgServer) -> Iterator[str]:
    """A database of this test's own, copied from the template and dropped after it."""
    name = new_database_name()
    _run_async(_admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield pg_server.url(name)
    _run_async(_admin(pg_server, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture
def backend() -> str:
    """The store backend of a test; tests/core and tests/store parametrise it over BACKENDS."""
    return "sqlite"


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'sessions.db'}"
        return
    if request.node.get_closest_marker("fresh_database") is not None:
        yield request.getfixturevalue("fresh_pg_url")
        return
    database: PgDatabase = request.getfixturevalue("pg_database")
    _run_async(reset_database(database.server, database.name, database.fingerprint))
    yield database.url


@contextlib.asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[Store]:
    """A store opened (and migrated) on `url`, closed on the way out."""
    opened = open_store(url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with opened_store(db_url) as opened:
        yield opened


@pytest.fixture
def services(store: Store, clock: ManualClock) -> Services:
    return build_services(store, clock=clock, config=ServiceConfig(admins=frozenset({"root"})))


@pytest.fixture
def runner(services: Services) -> CommandRunner:
    return CommandRunner(services)


def sql(store: Store, text: str) -> str:
    """Test SQL written with `?` placeholders, in the store's dialect (`$1, $2…` on PostgreSQL)."""
    if store.backend != "postgres":
        return text
    numbers = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", text)


async def fetchall(store: Store, text: str, *args: object) -> list[Any]:
    """Rows of a read through the store's engine (tests peek at tables directly)."""
    return list(await store.engine.fetchall(sql(store, text), args))  # type: ignore[attr-defined]


async def execute(store: Store, text: str, *args: object) -> None:
    """One write statement through the store's engine, committed before it returns."""
    if store.backend == "postgres":
        await store.engine.execute(sql(store, text), args)  # type: ignore[attr-defined]
    else:
        await store.engine.write(lambda conn: conn.execute(text, args))  # type: ignore[attr-defined]


async def count(store: Store, table: str, where: str = "TRUE", *args: object) -> int:
    (row,) = await fetchall(store, f"SELECT COUNT(*) FROM {table} WHERE {where}", *args)
    return int(row[0])
