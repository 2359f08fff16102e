"""People as the console writes them (`@name`), through the real `sessionbot console` process."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.console.test_console_script import run_console

SCRIPT = """\
settings admins @alice
start Deploy v2.3
plan Back up the database
@alice approve 1
share 1 @bob owner
share 1 @carol viewer
unshare 1 @carol
transfer 1 @bob
@carol transfer 1 @carol
@bob share 1 @dave
share 1 @Not:A:Name
"""


def test_settings_admins_at_name_lets_that_user_approve(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "admins: alice" in out
    assert "plan v1 approved by @alice; session is active" in out
    assert "A session has one owner; hand it over with `/session transfer [ref] @name`." in out
    assert "no longer shared with @carol" in out
    assert "handed over to @bob; @you stays on as an editor" in out
    assert "You can't share, archive or delete this session" in out  # carol is no owner
    assert "shared with @dave as editor" in out
    assert "`not?a?name` is not a console user id; mention them as @name." in out


CASED = """\
@Alice start Deploy v2.3
@ALICE plan Back up the database
approve 1
@alice modify 1 1 assign:mine
transfer 1 @bob
@bob share 1 @alice viewer
@Bad!Name start Nope
list all
"""


def test_console_names_are_one_user_whatever_their_case(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", CASED)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "@Alice" not in out and "@ALICE" not in out
    assert "⬜ 1. Back up the database → @alice" in out, out
    assert "item 1: reassign → @alice" in out and "@mine" not in out, out
    assert "handed over to @bob; @alice stays on as an editor" in out, out
    assert "shared with @alice as viewer" in out, out
    assert "`bad!name` is not a console user name" not in out  # shown without its `!`
    assert "`bad?name` is not a console user name" in out, out
    assert "Sessions: all (1)" in out and "Nope" not in out  # nothing started for it
    assert "Traceback" not in out + result.stderr


def test_console_user_option_is_lower_cased_or_refused(tmp_path: Path) -> None:
    result = run_console(tmp_path / "s.db", "start Deploy\nlist all\n", "--user", "Alice")
    assert result.returncode == 0, result.stderr
    assert "started by @alice" in result.stdout and "@Alice" not in result.stdout
    refused = run_console(tmp_path / "s.db", "start Deploy\n", "--user", "not a name")
    assert refused.returncode == 2
    assert "--user: `not?a?name` is not a console user name" in refused.stderr
    assert "Traceback" not in refused.stderr
