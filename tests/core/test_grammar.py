"""The §4 grammar: every documented line parses; garbage is a UsageError and changes nothing."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.commands import COMMANDS
from core.errors import UsageError
from core.grammar import Command, parse
from core.runner import CommandRunner
from core.store.sqlite.store import SqliteStore
from tests.conftest import CHAT, actor, count

REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"

# One line per §4 form (every optional part exercised at least once).
SPEC_LINES: list[tuple[str, str, str | None, dict[str, object]]] = [
    ("/session help", "help", None, {}),
    ("/session help pause", "help", None, {"command": "pause"}),
    ("/session start Deploy v2 mode:deploy max:50", "start", None,
     {"title": "Deploy v2", "mode": "deploy", "max": 50}),
    ("/session start", "start", None, {}),  # no title: the start form opens
    ("/session list", "list", None, {}),
    ("/session list done mine mode:deploy page:2", "list", None,
     {"filter": "done", "owner": "mine", "mode": "deploy", "page": 2}),
    ("/session list all <@U123|bob>", "list", None, {"filter": "all", "owner": "U123"}),
    ("/session show", "show", None, {}),
    ("/session show #42", "show", "42", {}),
    ("/session pause 42 waiting for review", "pause", "42", {"reason": "waiting for review"}),
    ("/session resume #42", "resume", "42", {}),
    ("/session complete shipped it", "complete", None, {"summary": "shipped it"}),
    ("/session fail 42 tests red", "fail", "42", {"reason": "tests red"}),
    ("/session cancel", "cancel", None, {}),
    ("/session plan need:2 expires:2h Back up; Migrate; Flip", "plan", None,
     {"need": 2, "expires": timedelta(hours=2), "items": ["Back up", "Migrate", "Flip"]}),
    ("/session approve 7", "approve", "7", {}),
    ("/session reject #7 too risky", "reject", "7", {"reason": "too risky"}),
    (f"/session approve {REQUEST_ID.upper()} confirm:deploy", "approve", REQUEST_ID,
     {"confirm": "deploy"}),
    (f"/session reject {REQUEST_ID} wrong version", "reject", REQUEST_ID,
     {"reason": "wrong version"}),
    ("/session requests", "requests", None, {}),
    ("/session requests #7 status:all", "requests", "7", {"status": "all"}),
    (f"/session answer {REQUEST_ID} eu, then us", "answer", None,
     {"request": REQUEST_ID, "text": "eu, then us"}),
    (f"/session answer {REQUEST_ID} choice:2", "answer", None,
     {"request": REQUEST_ID, "choice": 2}),
    ("/session modify 2 status:done", "modify", None, {"item": 2, "status": "done"}),
    ("/session modify 7 2 assign:<@U9>", "modify", "7", {"item": 2, "assign": "U9"}),
    ("/session modify 2 comment:needs a second look", "modify", None,
     {"item": 2, "comment": "needs a second look"}),
    ("/session note 7 rolled back the canary", "note", "7", {"text": "rolled back the canary"}),
    ("/session history #7 page:3", "history", "7", {"page": 3}),
    ('/session search "exact phrase" in:#7', "search", None,
     {"query": '"exact phrase"', "in": "7"}),
    ("/session export 7 json", "export", "7", {"format": "json"}),
    ("/session context 7 region=eu retries=3", "context", "7",
     {"pairs": {"region": "eu", "retries": "3"}}),
    ("/session extend 90s", "extend", None, {"duration": timedelta(seconds=90)}),
    ("/session fork 7 at:12", "fork", "7", {"at": 12}),
    ("/session share 7 @amy approver", "share", "7", {"user": "amy", "role": "approver"}),
    ("/session transfer 7 <@U0BOB|bob>", "transfer", "7", {"user": "U0BOB"}),
    ("/session unshare <@!123456789012345678>", "unshare", None, {"user": "123456789012345678"}),
    ("/session remind in 2h check the canary", "remind", None,
     {"in": timedelta(hours=2), "text": "check the canary"}),
    ("/session remind 7 at 09:30", "remind", "7", {"at": (9, 30)}),
    ("/session archive 7", "archive", "7", {}),
    ("/session stats days:7", "stats", None, {"days": 7}),
    ("/session summary", "summary", None, {}),
    ("/session summary weekly mon 09:00 tz:Europe/Paris", "summary", None,
     {"when": "weekly", "day": "mon", "time": (9, 0), "tz": "Europe/Paris"}),
    ("/session summary weekdays 17:30", "summary", None, {"when": "weekdays", "time": (17, 30)}),
    ("/session summary off", "summary", None, {"when": "off"}),
    ("/session settings", "settings", None, {}),
    ("/session settings abandon_after 2h", "settings", None,
     {"key": "abandon_after", "value": "2h"}),
    ("/session webhook add https://example.com/hook completed failed", "webhook", None,
     {"action": "add", "target": "https://example.com/hook", "events": ["completed", "failed"]}),
    ("/session webhook remove 3f2a", "webhook", None, {"action": "remove", "target": "3f2a"}),
    ("/session webhook list", "webhook", None, {"action": "list"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "name", "ref", "args"), SPEC_LINES, ids=[s[0] for s in SPEC_LINES]
)
def test_every_spec_line_parses(
    line: str, name: str, ref: str | None, args: dict[str, object]
) -> None:
    assert parse(line) == Command(name, ref, args)


def test_every_command_is_covered() -> None:
    assert {s[1] for s in SPEC_LINES} == set(COMMANDS)


def test_full_id_is_a_ref() -> None:
    full = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert parse(f"show {full}").ref == full


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("paus 3", "Did you mean `pause`"),
        ("start max:0", "Usage: `/session start"),
        ("fail 3", "Missing reason"),
        ("list donee", "Did you mean `done`"),
        ("extend soon", "Bad duration"),
        ("plan ;;", "at least one item"),
        ("modify 2", "exactly one of"),
        ("start " + "x" * 201, "too long"),
        ("remind check", "in <duration>"),
        ("summary weekly funday 09:00", "which day"),
        ("max:5 start", "There is no command `max:5`; `/session help` lists every command."),
        ("stats days:0", "between 1"),
        ("answer 42 yes", "`42` is a session ref; give the request's full id"),
        ("answer yes please", "`yes` is not a request's id"),
        (f"answer {REQUEST_ID}", "Answer in words or with `choice:<n>`"),
        (f"answer {REQUEST_ID} eu choice:1", "Answer in words or with `choice:<n>`"),
        (f"answer {REQUEST_ID} choice:0", "Bad choice: must be between 1 and 10"),
        ("requests status:all", "`status:all` lists one session's requests"),
        ("requests 7 status:done", "`done` is not one of pending, all"),
    ],
)
def test_mistakes_explain_themselves(line: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(line)
    assert fragment in caught.value.message


def test_a_leading_number_is_always_a_ref() -> None:
    assert parse("pause 9999").ref == "9999"
    assert parse("note 12 13 apples").ref == "12"


WORDS = st.sampled_from(
    [*COMMANDS, "#1", "42", "mode:", "need:x", "page:0", "@", "<@", ";", "in", "at", ":", "all",
     "status:done", "tz:Mars/Base", "<!channel>", "@everyone", "' OR 1=1 --", "\x00", "\u202e"]
)  # fmt: skip
GARBAGE = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12).map(" ".join),
)


@given(GARBAGE)
@settings(max_examples=400, deadline=None)
def test_parser_raises_only_usage_errors(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse(text)


@given(GARBAGE)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_unparseable_input_changes_nothing(
    runner: CommandRunner, store: SqliteStore, text: str
) -> None:
    try:
        parse(text)
    except UsageError:
        before = [await count(store, t) for t in ("sessions", "events", "outbox", "plans")]
        reply = await runner.run(actor("you", admin=True), CHAT, text)
        assert reply is not None and reply.view.kind == "error"
        assert [await count(store, t) for t in ("sessions", "events", "outbox", "plans")] == before
