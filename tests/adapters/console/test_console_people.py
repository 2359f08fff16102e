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
share 1 @Not.A.Name
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
    assert "`Not.A.Name` is not a console user id; mention them as @name." in out
