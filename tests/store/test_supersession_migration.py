"""Migration 0006 fills in who superseded each older plan, and when, from the next version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.models import Decision, Role
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services
from tests.conftest import CHAT, actor


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_an_existing_database_learns_who_superseded_its_plans(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    store = SqliteStore(db_url)
    await store.open()
    services = build_services(store, clock=clock)
    olga, bob = actor("olga"), actor("bob")
    s = await services.sessions.start(olga, CHAT, "Deploy")
    await services.members.share(olga, s.id, "bob", role=Role.APPROVER)
    await services.plans.submit(olga, s.id, ["Back up"])
    await services.plans.decide(bob, Decision.REJECT, ref=s.id, reason="too risky")
    clock.advance(60)
    await services.members.share(olga, s.id, "eddie", role=Role.EDITOR)
    await services.plans.submit(actor("eddie"), s.id, ["Back up", "Verify"])
    await store.close()
    with sqlite3.connect(tmp_path / "sessions.db") as conn:  # as the database was before 0006
        conn.execute("DROP TRIGGER plans_session_workspace")  # 0013
        conn.execute("DROP INDEX plans_decided_in")
        conn.execute("ALTER TABLE plans DROP COLUMN session_workspace")
        conn.execute("DROP TABLE home_viewers")  # 0010 (its index goes with the table)
        for later in (
            "sessions_by_created",
            "sessions_by_ended",
            "sessions_workspace_of",
            "plans_by_decision",
        ):  # 0009 (its requests indexes go with the table)
            conn.execute(f"DROP INDEX {later}")  # fmt: skip
        for later in ("web_sessions", "web_links"):  # 0008
            conn.execute(f"DROP TABLE {later}")
        for later in ("request_messages", "request_votes", "requests"):  # 0007
            conn.execute(f"DROP TABLE {later}")
        conn.execute("ALTER TABLE plans DROP COLUMN superseded_by")
        conn.execute("ALTER TABLE plans DROP COLUMN superseded_at")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 6")

    reopened = SqliteStore(db_url)
    await reopened.open()
    try:
        old, new = await reopened.plans.of_session(s.id)
        assert (old.superseded_by, old.superseded_at) == ("eddie", new.submitted_at)
        assert (old.decided_by, old.decision_reason) == ("bob", "too risky")
        assert (new.superseded_by, new.superseded_at) == (None, None)
    finally:
        await reopened.close()
