"""Full-text search: the user query language, FTS5 kept in step, ranking, workspace scoping."""

from __future__ import annotations

import re

import pytest

from core.errors import UsageError
from core.history.messages import HistoryService
from core.history.search import parse_query, search
from core.models import ChatRef, Session
from core.records.history import MATCH_END, MATCH_START
from core.records.search import Term
from core.store.search import to_fts5
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, WS, actor, execute, fetchall

OWNER = actor("olga")


@pytest.fixture
def history(services: Services) -> HistoryService:
    return services.history


@pytest.fixture
async def session(services: Services) -> Session:
    return await services.sessions.start(OWNER, CHAT, "Release train")


async def hits(history: HistoryService, query: str, **kw: object) -> list[str]:
    found = await search(history, OWNER, query, **kw)  # type: ignore[arg-type]
    return [h.snippet.replace(MATCH_START, "[").replace(MATCH_END, "]") for h in found.hits]


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("deploy failed", '("deploy") AND ("failed")'),
        ("deploy AND failed", '("deploy") AND ("failed")'),
        ('"exact phrase"', '"exact phrase"'),
        ("roll*", '"roll" *'),
        ("a OR b NOT c", '("a") OR (("b") NOT ("c"))'),
        ("(a OR b) c", '(("a") OR ("b")) AND ("c")'),
        ("content:secret", '"content:secret"'),
        ('say "hi"*', '("say") AND ("hi" *)'),
    ],
)
def test_queries_become_quoted_fts5(query: str, expression: str) -> None:
    assert to_fts5(parse_query(query)) == expression


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"unclosed phrase', "quote is not closed"),
        ("deploy AND", "ends too early"),
        ("AND deploy", "needs a word on each side"),
        ("deploy OR OR failed", "needs a word on each side"),
        ("NOT staging", "needs a word on each side"),
        ("(deploy", "`(` is not closed"),
        ("deploy) OR (secret", "no matching `(`"),
        ("()", "no words"),
        ("x ()", "`()` is empty"),
        ("ro*ll", "goes at the end of a word"),
        ("*", "no words"),
        ("!!! ???", "no words"),
        ("", "empty"),
        ("x" * 501, "longer than 500"),
        ("(" * 249 + "a" + ")" * 249, "more than 16 deep"),
        ("(" * 17 + "a" + ")" * 17, "more than 16 deep"),
    ],
)
async def test_malformed_queries_are_usage_errors(
    history: HistoryService, session: Session, query: str, reason: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(reason)) as caught:
        await search(history, OWNER, query)
    assert "Usage:" in caught.value.message


async def test_query_syntax_finds_words_phrases_and_prefixes(
    history: HistoryService, session: Session
):
    for text in (
        "deploy failed on node 3",
        "deploy succeeded after the retry",
        "we rolled back the failed release",
        "rollback plan is ready",
        "nothing to see here",
    ):
        await history.append(OWNER, session.id, text)
    assert len(await hits(history, "deploy AND failed")) == 1
    assert len(await hits(history, "deploy OR rollback")) == 3
    assert await hits(history, "deploy NOT failed") == ["[deploy] succeeded after the retry"]
    assert await hits(history, '"rolled back"') == ["we [rolled back] the failed release"]
    assert len(await hits(history, "roll*")) == 2
    assert await hits(history, "absent") == []


async def test_results_are_ranked_with_a_snippet(history: HistoryService, session: Session):
    await history.append(OWNER, session.id, "timeout once, in a long message about other things")
    await history.append(OWNER, session.id, "timeout timeout timeout")
    found = await search(history, OWNER, "timeout")
    assert [h.seq for h in found.hits] == [2, 1]
    top = found.hits[0]
    assert (top.session_ref, top.session_title) == (session.ref, "Release train")
    assert f"{MATCH_START}timeout{MATCH_END}" in top.snippet


async def test_edited_text_is_found_by_new_words_not_old(history: HistoryService, session: Session):
    await history.append(OWNER, session.id, "the canary looks unhealthy")
    await history.edit(OWNER, session.id, 1, "the canary looks healthy now")
    assert await hits(history, "unhealthy") == []
    assert await hits(history, "healthy") == ["the canary looks [healthy] now"]


async def test_deleted_messages_vanish_from_search(history: HistoryService, session: Session):
    await history.append(OWNER, session.id, "password hunter2 leaked")
    await history.edit(OWNER, session.id, 1, "password hunter3 leaked")
    await history.append(OWNER, session.id, "rotate the password")
    await history.delete(OWNER, session.id, 1)
    assert await hits(history, "hunter2 OR hunter3 OR leaked") == []
    assert await hits(history, "password") == ["rotate the [password]"]


async def test_results_never_cross_workspaces(
    history: HistoryService, services: Services, session: Session
):
    outsider = actor("olga", OTHER_WS)
    theirs = await services.sessions.start(
        outsider, ChatRef("console", OTHER_WS, "general"), "Theirs"
    )
    await history.append(outsider, theirs.id, "shared secret phrase")
    await history.append(OWNER, session.id, "our secret phrase")
    ours = await search(history, OWNER, "secret")
    assert [h.session_id for h in ours.hits] == [session.id]
    other = await search(history, outsider, "secret")
    assert [h.session_id for h in other.hits] == [theirs.id]
    with pytest.raises(Exception, match="No session"):
        await search(history, OWNER, "secret", ref=theirs.id)


async def test_search_can_be_limited_to_one_session(
    history: HistoryService, services: Services, session: Session
):
    other = await services.sessions.start(OWNER, CHAT, "Other")
    await history.append(OWNER, session.id, "disk full on db1")
    await history.append(OWNER, other.id, "disk full on db2")
    assert len((await search(history, OWNER, "disk")).hits) == 2
    scoped = await search(history, actor("anyone"), "disk", ref=str(other.ref))
    assert [h.session_id for h in scoped.hits] == [other.id]
    assert scoped.session is not None and scoped.session.id == other.id


async def test_deleting_a_session_drops_its_messages_from_the_index(
    history: HistoryService, session: Session, store: SqliteStore
):
    await history.append(OWNER, session.id, "ephemeral words")
    assert len(await store.history.search(WS, Term("ephemeral"))) == 1
    await execute(store, "DELETE FROM sessions WHERE id = ?", session.id)
    assert await store.history.search(WS, Term("ephemeral")) == []
    if store.backend == "sqlite":  # the FTS5 side table holds no stale entry either
        for word in ("ephemeral", "words"):
            (row,) = await fetchall(
                store, f"SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH '{word}'"
            )
            assert row[0] == 0
