"""The wait bench runs at a smoke size and prints its figures (their values are not checked:
timings belong to the bench, never to a test); every waiter got its decision."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.pg import find_bin_dir, unavailable

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    r"wait bench: 20 waiters, ",
    r"parked: all 20 in [\d.]+ s",
    r"server RSS: [\d.]+ MB before, [\d.]+ MB with all parked: \+?-?[\d.]+ MB",
    r"server CPU while parked, nothing decided: [\d.]+ % of a core",
    r"yardstick, a plain GET of a request while parked: p50 [\d.]+ ms, p99 [\d.]+ ms",
    r"decisions: 20 at 200/s, answers missing or wrong: 0",
    r"decision POSTs: p50 [\d.]+ ms, p99 [\d.]+ ms",
    r"server CPU a decision .*: [\d.]+ ms",
    r"commit → waiter's response: p50 -?[\d.]+ ms, p99 -?[\d.]+ ms, max -?[\d.]+ ms",
    r"decision POST returned → waiter's response: p50 -?[\d.]+ ms, p99 -?[\d.]+ ms",
]


def _bench(backend: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.wait_bench", "--waiters", "20", "--rate", "200",
         "--backend", backend],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _assert_figures(out: str, expected: list[str]) -> None:
    for figure in expected:
        assert re.search(figure, out), f"missing {figure!r} in:\n{out}"


def test_the_sqlite_run_prints_its_figures() -> None:
    out = _bench("sqlite")
    _assert_figures(out, FIGURES)
    assert "SQLite file, one process" in out and "heard on B" not in out


def test_the_postgres_run_across_two_replicas_prints_its_figures() -> None:
    if find_bin_dir() is None:
        unavailable("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (or $PG_BIN_DIR)")
    out = _bench("postgres")
    _assert_figures(out, [*FIGURES, r"commit on A → wake-up heard on B: p50 -?[\d.]+ ms"])
    assert "PostgreSQL, two replicas: waiters on B, decisions on A" in out
