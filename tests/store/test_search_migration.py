"""Migration 0011 on PostgreSQL: messages stored before it get their workspace for search (a
column of PostgreSQL's own, which an export leaves out)."""

from __future__ import annotations

import asyncpg
import pytest

from core.history.search import parse_query
from core.store.postgres.engine import pool_settings
from tests.conftest import OTHER_WS, WS, opened_store
from tests.store.contract.records import new_session
from tests.store.contract.test_search import _add

UNDO_0011 = """
DROP INDEX plans_decided_in;
DROP TRIGGER plans_session_workspace ON plans;
DROP FUNCTION plans_session_workspace();
ALTER TABLE plans DROP COLUMN session_workspace;
DELETE FROM schema_migrations WHERE version = 13;
DROP INDEX sessions_by_ended;
CREATE INDEX sessions_by_ended ON sessions (workspace, ended_at, outcome);
DELETE FROM schema_migrations WHERE version = 12;
DROP INDEX messages_search_newest;
DROP TRIGGER messages_search_workspace ON messages;
DROP FUNCTION messages_search_workspace();
ALTER TABLE messages DROP COLUMN search_workspace;
ALTER INDEX messages_search RESET (fastupdate);
DELETE FROM schema_migrations WHERE version = 11;
"""


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.mark.fresh_database  # it takes a migration back
async def test_messages_stored_before_0011_are_found_in_their_workspace(db_url: str) -> None:
    async with opened_store(db_url) as store:
        ours, theirs = await new_session(store), await new_session(store, workspace=OTHER_WS)
        before = [await _add(store, ours, "kestrel hills"), await _add(store, theirs, "kestrel")]
    conn = await asyncpg.connect(pool_settings(db_url)[0])
    try:
        await conn.execute(UNDO_0011)  # as the database was before 0011 (and 0012, 0013 after it)
        async with opened_store(db_url) as store:
            after = await _add(store, ours, "a kestrel")
            store.history.ranked = 1  # "kestrel" is common: found by the newest-first walk
            hits = await store.history.search(WS, parse_query("kestrel"), limit=2)
            assert sorted(h.message_id for h in hits) == sorted([before[0], after])
            found = await store.history.search(OTHER_WS, parse_query("kestrel"), limit=1)
            assert [h.message_id for h in found] == before[1:]
            exported = (await store.jobs.export_rows(ours.id))["messages"]
            assert len(exported) == 2 and all("search_workspace" not in r for r in exported)
        stored = await conn.fetch("SELECT session_id, search_workspace FROM messages")
        workspace = {ours.id: WS, theirs.id: OTHER_WS}
        assert sorted(tuple(r) for r in stored) == sorted((s, workspace[s]) for s in [
            ours.id, ours.id, theirs.id
        ])  # fmt: skip
        options = await conn.fetchval("SELECT reloptions FROM pg_class WHERE relname = $1",
                                      "messages_search")  # fmt: skip
        assert options == ["fastupdate=off"]
    finally:
        await conn.close()
