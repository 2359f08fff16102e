"""Shared fixtures: a real SQLite file per test, a manual clock, the service and runner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.models import Actor, ChatRef, Source
from core.runner import CommandRunner
from core.service import ServiceConfig, SessionService
from core.store.sqlite.store import SqliteStore

WS = "console:test"
OTHER_WS = "console:other"
CHAT = ChatRef("console", WS, "general")


def actor(user: str, workspace: str = WS, *, admin: bool = False) -> Actor:
    return Actor(workspace, user, Source.CONSOLE, platform_admin=admin)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sessions.db'}"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def service(store: SqliteStore, clock: ManualClock) -> SessionService:
    return SessionService(store, clock=clock, config=ServiceConfig(admins=frozenset({"root"})))


@pytest.fixture
def runner(service: SessionService) -> CommandRunner:
    return CommandRunner(service)


async def count(store: SqliteStore, table: str, where: str = "1", *args: object) -> int:
    row = await store.engine.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)
    assert row is not None
    return int(row[0])
