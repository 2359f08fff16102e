"""A real PostgreSQL server for the tests, started from the machine's binaries.

`PgServer.start()` runs `initdb` into a temporary directory and `pg_ctl start` on a free
loopback port (as the `postgres` user when the tests run as root, since the server refuses
to run as root), with fsync off: the tests need a real server, not a durable one. The
session fixture migrates one template database, and each test process copies it once into
its own database (`CREATE DATABASE … TEMPLATE …`). Before every test `reset_database`
(tests/conftest.py) empties it: it ends any connection an earlier test left open (and with
it any advisory lock, LISTEN or open transaction), then, in one statement, deletes every row
of every application table and restarts every id sequence a test used, so ids start fresh
(`EMPTY_APPLICATION_TABLES`). A test that changed the schema (a trigger, a function, a row
in `schema_migrations`, an extension) leaves a catalog that no longer matches the template's
`SCHEMA_FINGERPRINT`: the database is then copied again. A test that needs a database of its
own (`@pytest.mark.fresh_database`) gets a fresh copy of the template.

Where no binaries exist the PostgreSQL tests are skipped with the reason, except when
`CI=true`: there a missing server is a failure, so CI never goes green without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
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

    def dsn(self, database: str) -> str:
        """What asyncpg connects to directly (no pool settings)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """What a store opens (`SESSIONBOT_DATABASE_URL`)."""
        return f"{self.dsn(database)}?pool_max=4"

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


# Everything in the database's catalog a test could change and a later test would notice: the
# relations (tables, indexes, sequences, views) and their options, columns, constraints,
# triggers, functions, extensions, per-database settings and the applied migrations.
SCHEMA_FINGERPRINT = """
SELECT md5(concat_ws('|',
    (SELECT string_agg(format('%s.%s:%s:%s', n.nspname, c.relname, c.relkind, c.reloptions),
                       ',' ORDER BY n.nspname, c.relname)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'),
    (SELECT string_agg(format('%s.%s:%s:%s:%s', a.attrelid::regclass, a.attname,
                              format_type(a.atttypid, a.atttypmod), a.attnotnull,
                              pg_get_expr(d.adbin, d.adrelid)),
                       ',' ORDER BY a.attrelid::regclass::text, a.attnum)
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(format('%s:%s', conrelid::regclass, pg_get_constraintdef(oid)),
                       ',' ORDER BY conrelid::regclass::text, conname)
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
    (SELECT string_agg(format('%s:%s', tgrelid::regclass, tgname), ','
                       ORDER BY tgrelid::regclass::text, tgname)
       FROM pg_trigger WHERE NOT tgisinternal),
    (SELECT string_agg(format('%s:%s', oid::regprocedure, md5(prosrc)), ','
                       ORDER BY oid::regprocedure::text)
       FROM pg_proc
      WHERE pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
    (SELECT string_agg(format('%s:%s', extname, extversion), ',' ORDER BY extname)
       FROM pg_extension),
    (SELECT string_agg(array_to_string(setconfig, ';'), ',' ORDER BY setrole)
       FROM pg_db_role_setting
      WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())),
    (SELECT string_agg(format('%s:%s', version, name), ',' ORDER BY version)
       FROM schema_migrations)
))
"""

# Ends every other connection to this database, waiting up to 10 s for each to be gone (with
# it go its advisory locks, LISTEN channels, temporary tables and open transactions).
END_OTHER_CONNECTIONS = """
SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
"""

# Empties every application table (all of public's tables but the applied migrations, found in
# the catalog) and restarts every id sequence a test used, so ids start at 1 again: one
# statement, one transaction. DELETE, not TRUNCATE: TRUNCATE gives every table and index (and
# with CASCADE every table referring to them) a new file, about 130 ms a test here, where
# deleting the few rows a test wrote takes 2 ms. Replica mode skips the foreign-key and other
# triggers, so the order of the tables does not matter and no trigger writes a row meanwhile.
EMPTY_APPLICATION_TABLES = """
DO $$
DECLARE
    t record;
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    FOR t IN SELECT format('%I.%I', n.nspname, c.relname) AS name
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                AND c.relname <> 'schema_migrations'
    LOOP
        EXECUTE format('DELETE FROM %s', t.name);
    END LOOP;
    FOR t IN SELECT format('%I.%I', schemaname, sequencename) AS name
               FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL
    LOOP
        EXECUTE format('ALTER SEQUENCE %s RESTART', t.name);
    END LOOP;
END
$$
"""


@contextlib.asynccontextmanager
async def bench_database(name: str) -> AsyncIterator[PgServer]:
    """A durable server (fsync on, as a benchmark needs) holding a new database `name`,
    stopped at the end; SystemExit when no PostgreSQL binaries are installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (or $PG_BIN_DIR)")
    pg = await asyncio.to_thread(PgServer.start, bin_dir, durable=True)
    try:
        conn = await asyncpg.connect(pg.dsn("postgres"))
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        yield pg
    finally:
        await asyncio.to_thread(pg.stop)
