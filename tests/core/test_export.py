"""Export (JSON, Markdown) and import: round trip equal apart from ids; bad files change nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import Forbidden, NotFound, StoreError, UsageError
from core.history import context, export
from core.history.importer import import_json
from core.history.messages import HistoryService
from core.models import Decision, EventType, ModAction, Role, Session
from core.records.search import Term
from core.services.config import ServiceConfig
from core.store.sqlite.store import SqliteStore
from core.wiring import Services, build_services
from tests.conftest import CHAT, OTHER_WS, WS, actor, count

OWNER = actor("olga")
ADMIN_ELSEWHERE = actor("root", OTHER_WS)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TABLES = ("sessions", "members", "plans", "plan_items", "messages", "message_revisions", "events")


@pytest.fixture
def history(services: Services) -> HistoryService:
    return services.history


@pytest.fixture
async def rich(history: HistoryService, services: Services) -> Session:
    """A session with every kind of record: members, two plans, decisions, a modification,
    threaded / edited / deleted messages, TTL'd context and events."""
    s = await services.sessions.start(OWNER, CHAT, "Deploy v2.3", mode="deploy")
    await services.members.share(OWNER, s.id, "bob", role=Role.APPROVER)
    await services.members.share(OWNER, s.id, "eddie", role=Role.EDITOR)
    await services.plans.submit(OWNER, s.id, ["Back up", "Migrate"])
    await services.plans.decide(actor("bob"), Decision.REJECT, ref=s.id, reason="too early")
    await services.plans.submit(OWNER, s.id, ["Back up", "Migrate", "Flip traffic"])
    await services.plans.decide(actor("bob"), Decision.APPROVE, ref=s.id)
    await services.plans.modify(OWNER, s.id, 1, ModAction.STATUS_CHANGE, "done")
    await services.plans.modify(OWNER, s.id, 2, ModAction.COMMENT, "slow on replica")
    first = await history.append(OWNER, s.id, "starting the backup")
    await history.append(actor("eddie"), s.id, "backup done", parent_id=first.id)
    await history.append(OWNER, s.id, "password is hunter2")
    await history.append(OWNER, s.id, "migration running", metadata={"step": 2})
    await history.edit(OWNER, s.id, 4, "migration running (40%)")
    await history.edit(OWNER, s.id, 4, "migration finished")
    await history.delete(OWNER, s.id, 3)
    await context.update(history, OWNER, s.id, {"env": "prod", "db": {"host": "a"}})
    await context.update(history, OWNER, s.id, {"lock": "x"}, ttl=timedelta(days=1))
    await services.progress.record_event(OWNER, s.id, EventType.TOOL_CALL, {"tool": "psql", "n": 1})
    fresh = await services.store.sessions.by_id(s.id)
    assert fresh is not None
    return fresh


async def exported(history: HistoryService, who: Any, ref: str) -> str:
    return "".join([c async for c in export.json_chunks(history, who, ref)])


def normalized(text: str) -> Any:
    """The export with ids, ref, workspace and export time replaced by stable placeholders."""
    data = json.loads(text)
    data.pop("exported_at")
    data["session"]["ref"] = data["session"]["workspace"] = "-"
    names: dict[str, str] = {}
    flat = UUID.sub(lambda m: names.setdefault(m.group(0), f"id{len(names)}"), json.dumps(data))
    return json.loads(flat)


async def counts(store: SqliteStore) -> dict[str, int]:
    return {table: await count(store, table) for table in TABLES}


async def test_json_export_holds_everything(history: HistoryService, rich: Session):
    data = json.loads(await exported(history, actor("mallory"), str(rich.ref)))
    assert data["format_version"] == 1
    assert data["session"]["title"] == "Deploy v2.3" and data["session"]["context"]["env"] == "prod"
    assert {m["user_id"]: m["role"] for m in data["members"]} == {
        "olga": "owner", "bob": "approver", "eddie": "editor",
    }  # fmt: skip
    assert [(p["version"], p["status"]) for p in data["plans"]] == [
        (1, "superseded"), (2, "approved"),
    ]  # fmt: skip
    assert data["plans"][0]["approvals"][0]["reason"] == "too early"
    assert [m["action"] for m in data["modifications"]] == ["status_change", "comment"]
    messages = data["messages"]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4]
    assert messages[1]["parent_id"] == messages[0]["id"]
    assert messages[2]["content"] == "" and messages[2]["deleted_by"] == "olga"
    assert [r["content"] for r in messages[3]["revisions"]] == [
        "migration running", "migration running (40%)",
    ]  # fmt: skip
    assert "hunter2" not in json.dumps(data)
    assert list(data["context_expiry"]) == ["lock"]
    assert [e["seq"] for e in data["events"]] == list(range(1, len(data["events"]) + 1))
    assert data["events"][-1]["type"] == "tool_call"


async def test_export_import_export_round_trip_is_equal_apart_from_ids(
    history: HistoryService, rich: Session, tmp_path: Path
):
    first = await exported(history, OWNER, rich.id)
    # Into a fresh database: nothing clashes, so the ids are kept.
    fresh = SqliteStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    await fresh.open()
    try:
        config = ServiceConfig(admins=frozenset({"root"}))
        elsewhere = build_services(fresh, clock=history.clock, config=config).history
        kept = await import_json(elsewhere, ADMIN_ELSEWHERE, first, workspace=OTHER_WS)
        assert not kept.new_ids and kept.session.id == rich.id and kept.session.ref == 1
        assert normalized(await exported(elsewhere, ADMIN_ELSEWHERE, "1")) == normalized(first)
        assert await exported(elsewhere, ADMIN_ELSEWHERE, "1") != first  # workspace differs
    finally:
        await fresh.close()
    # Into the same database, another workspace: every id clashes, so all are new.
    result = await import_json(history, ADMIN_ELSEWHERE, first, workspace=OTHER_WS)
    assert result.session.workspace == OTHER_WS and result.session.ref == 1
    assert result.new_ids and result.session.id != rich.id
    second = await exported(history, ADMIN_ELSEWHERE, str(result.session.ref))
    assert normalized(second) == normalized(first)
    assert not set(UUID.findall(second)) & set(UUID.findall(first))
    # And into the first workspace again: the ref is renumbered.
    again = await import_json(history, actor("root"), first)
    assert again.new_ids and again.session.ref == 2 and again.session.workspace == WS
    assert normalized(await exported(history, OWNER, "2")) == normalized(first)
    found = await history.store.history.search(WS, Term("finished"))
    assert {h.session_ref for h in found} == {rich.ref, 2}, "imported messages are searchable"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda t: t[: len(t) // 2], "not valid JSON"),
        (lambda t: t[:-3], "truncated"),
        (lambda t: "garbage" + t, "line 1 column 1"),
        (lambda t: t.replace('"seq":3,', '"seq":"three",', 1), "messages[2].seq: expected int"),
        (lambda t: t.replace('"seq":3,', '"seq":5,', 1), "not 1, 2, 3"),
        (lambda t: t.replace('"format_version":1', '"format_version":9'), "version 9"),
        (lambda t: t.replace('"role":"user"', '"role":"robot"', 1), "`robot` is not allowed"),
        (lambda t: t.replace('"status":"approved"', '"status":7', 1), "expected str"),
        (lambda t: "[]", "expected an object"),
    ],
)
async def test_a_bad_or_truncated_file_is_refused_and_imports_nothing(
    history: HistoryService, rich: Session, store: SqliteStore, damage: Any, reason: str
):
    good = await exported(history, OWNER, rich.id)
    before = await counts(store)
    with pytest.raises(UsageError, match=re.escape(reason)) as caught:
        await import_json(history, actor("root"), damage(good))
    assert "Nothing was imported" in caught.value.message
    assert await counts(store) == before


async def test_a_file_the_database_refuses_rolls_back_completely(
    history: HistoryService, rich: Session, store: SqliteStore
):
    data = json.loads(await exported(history, OWNER, rich.id))
    items = data["plans"][1]["items"]
    items[1]["position"] = items[0]["position"]  # passes the checks, breaks a primary key
    before = await counts(store)
    with pytest.raises(StoreError):
        await import_json(history, actor("root"), json.dumps(data))
    assert await counts(store) == before
    next_start = await history.sessions.start(OWNER, CHAT, "After the failed import")
    assert next_start.ref == 2, "the failed import did not use up a ref"


async def test_import_needs_a_workspace_admin(history: HistoryService, rich: Session):
    text = await exported(history, OWNER, rich.id)
    with pytest.raises(Forbidden):
        await import_json(history, OWNER, text, workspace=OTHER_WS)


async def test_export_is_for_members_of_the_workspace_only(history: HistoryService, rich: Session):
    assert await exported(history, actor("mallory"), rich.id)
    with pytest.raises(NotFound):
        await exported(history, actor("olga", OTHER_WS), rich.id)


async def test_large_exports_stream_in_pages(history: HistoryService, services: Services):
    s = await services.sessions.start(OWNER, CHAT, "Chatty")
    await history.store.history.insert(
        [
            _message(s.id, seq, f"line {seq}")
            for seq in range(1, export.PAGE * 2 + 101)  # three pages
        ]
    )
    chunks = [c async for c in export.json_chunks(history, OWNER, s.id)]
    message_chunks = [c for c in chunks if '"seq"' in c and '"role"' in c]
    assert len(message_chunks) == 3
    assert max(len(c) for c in chunks) < export.PAGE * 400
    assert len(json.loads("".join(chunks))["messages"]) == export.PAGE * 2 + 100


def _message(session_id: str, seq: int, text: str) -> Any:
    from datetime import UTC, datetime

    from core.models import new_id
    from core.records.history import Message, MessageRole

    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return Message(new_id(), session_id, seq, MessageRole.USER, "olga", text, at)


async def test_markdown_is_a_readable_transcript_with_plan_and_decisions(
    history: HistoryService, rich: Session
):
    text = "".join([c async for c in export.markdown_chunks(history, OWNER, rich.id)])
    for fragment in (
        "# Session #1: Deploy v2.3",
        "- Status: active · Mode: deploy · Owner: @olga",
        "## Summary",
        "## Plan v1 (superseded)",
        "- **rejected** by @bob at 2026-01-05 09:00 UTC — too early",
        "- **superseded** by @olga at 2026-01-05 09:00 UTC (plan v2)",
        "## Plan v2 (approved)",
        "1. [done] Back up",
        "- **approved** by @bob at",
        "## Decisions",
        "plan submitted (v2) by @olga",
        "## Transcript",
        "**#1 · user · @olga** · 2026-01-05 09:00 UTC",
        "**#2 · user · @eddie** · 2026-01-05 09:00 UTC ↳ reply",
        "_#3 deleted by @olga",
        "migration finished",
    ):
        assert fragment in text, fragment
    assert "hunter2" not in text
    assert text.index("## Decisions") < text.index("## Transcript")
    assert text.count("too early") == 1 and text.count("by @bob at") == 2  # once per decision
    assert text.count("too early") == 1 and text.count("by @bob at") == 2  # once per decision


async def test_export_record_is_the_cleanup_jobs_exporter(
    history: HistoryService, services: Services, rich: Session
):
    record = await export.export_record(services, rich, services.clock.now())
    assert record["format_version"] == 1 and record["session"]["id"] == rich.id
    assert len(record["messages"]) == 4
