"""Cold start and memory (SPEC §14): `sessionbot serve` to ready, and its RSS, with N sessions.

The database is built once and cached (`--cache`, by default under the system's temporary
folder): the store's migrations, then bulk inserts with `executemany` straight into the
store's tables (`bench.sweep_bench.load`: 10 workspaces, 70 % archived, 20 % completed, 10 %
open, every session recent so nothing is due) — not through the service, which would take
far too long for a million sessions. Each run copies the cached file, creates an API token
with the CLI, then starts the production entry (`python -m bot serve`, no chat tokens: the
HTTP API, the outbox and the scheduler; stdin closed) and polls `/readyz` every 10 ms:
"ready" is the first 200, timed from the moment the process is spawned. Then it reads the
process's RSS (/proc VmRSS), runs a few API calls (list, list all, show one session, the
metrics page, which counts sessions by status) and reads the RSS again, and its peak (VmHWM).

    python -m bench.start_bench [--sessions 1000000] [--runs 3] [--cache DIR]

Prints each run and the medians against the targets: ready <= 1.5 s, RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.slack_load import _cpu_seconds, _free_port
from bench.sweep_bench import load

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = "slack:T000"  # one of the loaded workspaces
READY_TARGET, RSS_TARGET = 1.5, 150.0


def _database(cache: Path, sessions: int) -> Path:
    """The cached database with `sessions` sessions, built first if missing."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = cache / f"start-{sessions}.db"
    built = db.with_suffix(".built")  # written once the load finished (and the store closed)
    if not built.exists():
        print(f"building {db} ({sessions:,} sessions, bulk inserts)…", flush=True)
        started = time.perf_counter()
        for stale in (db, db.with_name(f"{db.name}-wal"), db.with_name(f"{db.name}-shm")):
            stale.unlink(missing_ok=True)
        child = multiprocessing.get_context("spawn").Process(
            target=load, args=(db, sessions, datetime.now(UTC))
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit("building the database failed")
        built.touch()
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return db


def _env(db: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "SESSIONBOT_"))
    }
    env.update(
        SESSIONBOT_DATABASE_URL=f"sqlite:///{db}",
        SESSIONBOT_HTTP_HOST="127.0.0.1",
        SESSIONBOT_HTTP_PORT=str(port),
        SESSIONBOT_LOG_LEVEL="warning",
    )
    return env


def _token(env: dict[str, str]) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "bot", "token", "create", "--workspace", WORKSPACE, "--name", "b"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _get(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
        return bytes(r.read())


def _ready_after(base: str, spawned: float, timeout: float = 60.0) -> float:
    while time.perf_counter() - spawned < timeout:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - spawned
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.01)
    raise SystemExit("the bot did not become ready")


def _commands(base: str, token: str) -> None:
    api = f"{base}/api/v1"
    listed = json.loads(_get(f"{api}/sessions", token))
    everything = json.loads(_get(f"{api}/sessions?status=all", token))
    first = (everything.get("sessions") or everything.get("items") or [{}])[0]
    if not listed or not first:
        raise SystemExit(f"unexpected answers: {str(listed)[:200]} / {str(everything)[:200]}")
    ref = first.get("ref") or first.get("id")
    _get(f"{api}/sessions/{ref}", token)
    _get(f"{base}/metrics")


def _run(cached: Path, tmp: Path) -> tuple[float, float, float, float, float]:
    db = tmp / "sessions.db"
    shutil.copyfile(cached, db)
    port = _free_port()
    env = _env(db, port)
    token = _token(env)
    base = f"http://127.0.0.1:{port}"
    spawned = time.perf_counter()
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
    )
    try:
        ready = _ready_after(base, spawned)
        cpu, rss_ready = _cpu_seconds(bot.pid), _rss_mb(bot.pid)
        _commands(base, token)
        return ready, cpu, rss_ready, _rss_mb(bot.pid), _rss_mb(bot.pid, "VmHWM")
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        db.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    busy = "(the wall time counts the other processes on the machine; the CPU time does not)"
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "sessionbot-start-bench"
    )
    args = parser.parse_args()
    cached = _database(args.cache, args.sessions)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            ready, cpu, rss, after, peak = _run(cached, Path(tmp))
            runs.append((ready, cpu, rss, after, peak))
            print(
                f"run {n + 1}: ready in {ready:.2f} s ({cpu:.2f} s of CPU); "
                f"RSS {rss:.0f} MB at ready, {after:.0f} MB after the commands "
                f"(peak {peak:.0f} MB)",
                flush=True,
            )
    ready, cpu, rss, after, peak = (statistics.median(r[i] for r in runs) for i in range(5))
    rss_met = max(after, peak) <= RSS_TARGET
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f} {busy}")
    print(
        f"median of {len(runs)} with {args.sessions:,} sessions: "
        f"ready {ready:.2f} s ({cpu:.2f} s of CPU), RSS {rss:.0f} MB at ready, "
        f"{after:.0f} MB after commands, peak {peak:.0f} MB"
    )
    print(
        f"targets: ready <= {READY_TARGET} s {'met' if ready <= READY_TARGET else 'MISSED'}; "
        f"RSS <= {RSS_TARGET:.0f} MB {'met' if rss_met else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
