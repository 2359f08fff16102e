"""Migration 0013: plans stored before it get their session's workspace (the Stats page reads
a workspace's decisions by it), and a plan inserted later gets it from the trigger."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import asyncpg
import pytest

from core.store import ops
from core.store.postgres.engine import pool_settings
from core.store.store import Store
from tests.conftest import OTHER_WS, WS, opened_store
from tests.store.contract.records import NOW, new_session, plan_record

UNDO = {
    "sqlite": """
DROP INDEX plans_decided_in;
DROP TRIGGER plans_session_workspace;
ALTER TABLE plans DROP COLUMN session_workspace;
DELETE FROM schema_migrations WHERE version = 13;
""",
    "postgres": """
DROP INDEX plans_decided_in;
DROP TRIGGER plans_session_workspace ON plans;
DROP FUNCTION plans_session_workspace();
ALTER TABLE plans DROP COLUMN session_workspace;
DELETE FROM schema_migrations WHERE version = 13;
""",
}


async def _decided(store: Store, workspace: str, minutes: int) -> None:
    session = await new_session(store, workspace=workspace)
    plan = plan_record(session.id)
    await store.apply([ops.NewPlan(plan)])
    decided = {
        "status": "approved",
        "decided_by": "olga",
        "decided_at": plan.submitted_at + timedelta(minutes=minutes),
    }
    await store.apply([ops.UpdatePlan(plan.id, 1, decided)])


async def _latencies(store: Store, workspace: str) -> list[float]:
    found = await store.tallies.days(
        workspace, NOW - timedelta(days=1), None, until=NOW + timedelta(days=1)
    )
    return sorted(v for part in found.values() for v in part.latencies)


async def _undo(backend: str, db_url: str) -> None:
    if backend == "sqlite":
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.executescript(UNDO["sqlite"])
        return
    conn = await asyncpg.connect(pool_settings(db_url)[0])
    try:
        await conn.execute(UNDO["postgres"])
    finally:
        await conn.close()


@pytest.mark.fresh_database  # it takes a migration back
async def test_plans_stored_before_0013_count_in_their_workspace(backend: str, db_url: str) -> None:
    async with opened_store(db_url) as store:
        await _decided(store, WS, 2)
        await _decided(store, OTHER_WS, 7)
    await _undo(backend, db_url)  # as the database was before 0013
    async with opened_store(db_url) as store:
        await _decided(store, WS, 3)  # inserted after: the trigger fills it
        assert await _latencies(store, WS) == [120.0, 180.0]
        assert await _latencies(store, OTHER_WS) == [420.0]
        session = await new_session(store)
        await store.apply([ops.NewPlan(plan_record(session.id))])
        exported = (await store.jobs.export_rows(session.id))["plans"]
        assert len(exported) == 1 and "session_workspace" not in exported[0]
