"""User references: one parser for every way people are written, one validator per platform."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from core.users import check_user_id, console_user, parse_user, user_ref
from core.views import mention

HOSTILE = "U0X> <!channel> <http://evil.example|Re-authenticate"


@pytest.mark.parametrize(
    ("token", "user_id"),
    [
        ("<@U0BOB|bob>", "U0BOB"),
        ("<@U0BOB>", "U0BOB"),
        ("<@123456789012345678>", "123456789012345678"),
        ("<@!123456789012345678>", "123456789012345678"),
        ("@alice", "alice"),
        ("U0123ABCDE", "U0123ABCDE"),
        ("123456789012345678", "123456789012345678"),
        ("approver", None),
        ("<!channel>", None),
        ("<@U0X> <!channel>", None),
        ("<#C123|general>", None),
    ],
)
def test_every_written_form_parses_to_the_id(token: str, user_id: str | None) -> None:
    assert parse_user(token) == user_id


@pytest.mark.parametrize(
    ("workspace", "good", "bad"),
    [
        ("slack:T1", ["U0BOB", "W0123ABCD"], ["alice", "u0bob", "123456789012345678", HOSTILE]),
        ("discord:1", ["123456789012345678"], ["1234", "U0BOB", "@everyone", HOSTILE]),
        ("console:x", ["alice", "bob.smith", "ci_bot-2"], ["a" * 33, "a b", HOSTILE]),
        ("api:acme", ["ci-agent", "U0BOB", "svc:deploy@acme"], ["-x", "a b", HOSTILE]),
    ],
)
def test_ids_are_checked_against_the_workspace_platform(
    workspace: str, good: list[str], bad: list[str]
) -> None:
    for user_id in good:
        assert check_user_id(workspace, user_id) == user_id
    for user_id in bad:
        with pytest.raises(UsageError) as caught:
            check_user_id(workspace, user_id)
        assert "<" not in caught.value.message and ">" not in caught.value.message


def test_user_ref_takes_any_form_and_checks_it() -> None:
    assert user_ref("slack:T1", "<@U0BOB|bob>") == "U0BOB"
    assert user_ref("console:x", "@alice") == "alice"
    assert user_ref("console:x", "alice") == "alice"
    assert user_ref("console:x", "@Alice") == check_user_id("console:x", "ALICE") == "alice"
    with pytest.raises(UsageError):
        user_ref("slack:T1", "@alice")


def test_mention_renders_a_malformed_id_as_inert_text() -> None:
    assert mention("U0BOB") == "<@U0BOB>"
    assert mention(None) == "nobody"
    inert = mention(HOSTILE)
    assert "<" not in inert and ">" not in inert
    assert inert == "U0X&gt; &lt;!channel&gt; &lt;http://evil.example|Re-authenticate"


def test_console_names_are_lower_cased_and_checked_where_actors_are_made() -> None:
    assert console_user("Alice") == console_user("@alice") == "alice"
    assert check_user_id("console:x", console_user("Bob.Smith")) == "bob.smith"
    for bad in ("", "@", "a b", "a" * 33, "ci:bot", HOSTILE):
        with pytest.raises(UsageError, match="is not a console user name"):
            console_user(bad)
