"""Shared fixtures: a real database per test, a manual clock, the service and runner.

The database is a SQLite file; tests/core and tests/store also run every test on a fresh
PostgreSQL database (their conftest parametrises `backend`), see tests/pg.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from core.clock import ManualClock
from core.models import Actor, ChatRef, Source
from core.runner import CommandRunner
from core.service import ServiceConfig, SessionService
from core.store.base import Store
from core.store.factory import open_store
from tests.pg import TEMPLATE, PgServer, find_bin_dir, new_database_name, unavailable

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
    conn = await asyncpg.connect(server.url("postgres").split("?")[0])
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


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


@pytest.fixture
def backend() -> str:
    """The store backend of a test; tests/core and tests/store parametrise it over BACKENDS."""
    return "sqlite"


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'sessions.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = new_database_name()
    _run_async(_admin(server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield server.url(name)
    _run_async(_admin(server, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = open_store(db_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def service(store: Store, clock: ManualClock) -> SessionService:
    return SessionService(store, clock=clock, config=ServiceConfig(admins=frozenset({"root"})))


@pytest.fixture
def runner(service: SessionService) -> CommandRunner:
    return CommandRunner(service)


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
