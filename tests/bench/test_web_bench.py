"""The web page bench runs at a smoke size and prints a figure for every page (their values are
not checked: timings belong to the bench, never to a test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.pg import find_bin_dir, unavailable

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "inbox",
    "sessions, first page",
    "sessions, after a cursor",
    "sessions, filtered",
    "search, a rare word",
    "search, a word of 1 in 5",
    "one session",
    "stats",
]


def _bench(backend: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.web_bench", "--sessions", "600", "--requests", "3",
         "--backend", backend],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _assert_figures(out: str) -> None:
    assert re.search(r"600 sessions filled in [\d.]+ s", out), out
    for page in PAGES:
        figure = rf"  {re.escape(page)} +p50 +[\d.]+ ms, p95 +[\d.]+ ms, max +[\d.]+ ms"
        assert re.search(figure, out), f"missing {page!r} in:\n{out}"


def test_the_sqlite_run_prints_a_figure_for_every_page() -> None:
    out = _bench("sqlite")
    _assert_figures(out)
    assert "web bench on SQLite file" in out


def test_the_postgres_run_prints_a_figure_for_every_page() -> None:
    if find_bin_dir() is None:
        unavailable("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (or $PG_BIN_DIR)")
    out = _bench("postgres")
    _assert_figures(out)
    assert "web bench on PostgreSQL" in out
