"""A real PostgreSQL server for the tests, started from the machine's binaries.

`PgServer.start()` runs `initdb` into a temporary directory and `pg_ctl start` on a free
loopback port (as the `postgres` user when the tests run as root, since the server refuses
to run as root), with fsync off: the tests need a real server, not a durable one. The
session fixture migrates one template database; every test gets its own database copied
from it (`CREATE DATABASE … TEMPLATE …`, a file copy, a few milliseconds).

Where no binaries exist the PostgreSQL tests are skipped with the reason, except when
`CI=true`: there a missing server is a failure, so CI never goes green without them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "sessionbot"
TEMPLATE = "sessionbot_template"
_counter = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` holding a server (or $PG_BIN_DIR)."""
    candidates = [os.environ["PG_BIN_DIR"]] if os.environ.get("PG_BIN_DIR") else []
    found = glob.glob("/usr/lib/postgresql/*/bin")
    found.sort(key=lambda p: _version(Path(p).parent.name), reverse=True)
    for folder in [*candidates, *found]:
        path = Path(folder)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def unavailable(reason: str) -> None:
    """Skip (or, under CI=true, fail) a test that needs PostgreSQL."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    bin_dir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}?pool_max=4"

    @classmethod
    def start(cls, bin_dir: Path, *, durable: bool = False) -> PgServer:
        """A running server; `durable` keeps fsync on (benchmarks), tests run without it."""
        root = Path(tempfile.mkdtemp(prefix="sessionbot-pg-"))
        as_user = None
        if os.geteuid() == 0:  # the server refuses to run as root
            as_user = "postgres"
            entry = pwd.getpwnam(as_user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        server = cls(bin_dir, root, _free_port(), as_user)
        try:
            server._run(
                "initdb", "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
                "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
            )  # fmt: skip
            options = (
                f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1"
                " -c max_connections=300 -c shared_buffers=64MB"
            )
            if not durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            server._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(server.data),
                "-l", str(root / "server.log"), "-o", options,
            )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{self.log_tail()}"
            )


def new_database_name() -> str:
    return f"sessionbot_test_{os.getpid()}_{next(_counter)}"
