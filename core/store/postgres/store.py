"""PostgresStore: the Store contract on PostgreSQL through an asyncpg pool."""

from __future__ import annotations

import logging

from asyncpg import Connection

from core.store import migrations
from core.store.postgres.engine import PgDatabase, PgEngine
from core.store.store import Store

_log = logging.getLogger(__name__)

# Held (session-level advisory lock) while migrating, so replicas starting together take turns.
MIGRATION_LOCK = 0x5E5510B07
_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


class PostgresStore(Store):
    """Sessions, plans, events and the outbox in PostgreSQL, shared by any number of replicas."""

    backend = "postgres"
    engine: PgEngine

    def __init__(self, url: str) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("not a PostgreSQL URL")
        self.url = url
        self.engine = PgEngine(url, on_commit=self._committed)
        super().__init__(PgDatabase(self.engine))

    # -- lifecycle ---------------------------------------------------------------------------

    async def schema_status(self) -> tuple[int, int]:
        """(version of the database, newest version this code knows)."""
        latest = len(migrations.load("postgres"))

        async def read(conn: Connection) -> int:
            if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                return 0
            return int(
                await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            )

        return await self.engine.run_raw(read), latest

    async def migrate(self) -> list[str]:
        """Apply every migration the database lacks, each in its own transaction."""

        async def run(conn: Connection) -> list[str]:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(_SCHEMA_TABLE)
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                applied = []
                for m in migrations.load("postgres"):
                    if m.version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(m.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            m.version, m.name,
                        )  # fmt: skip
                    applied.append(f"{m.version:04d}_{m.name}")
                return applied
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

        applied = await self.engine.run_raw(run)
        for name in applied:
            _log.info("applied migration %s", name)
        return applied

    # -- operations --------------------------------------------------------------------------

    async def checkpoint(self) -> None:
        """Refresh the planner's statistics (autovacuum does the rest on PostgreSQL)."""

        async def run(conn: Connection) -> None:
            await conn.execute("ANALYZE")

        await self.engine.run_raw(run)

    async def integrity_problems(self) -> list[str]:
        """Invalid indexes (a failed concurrent build) and constraints not validated."""
        indexes = await self.engine.fetchall(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)"
        )
        constraints = await self.engine.fetchall(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE n.nspname = current_schema() AND NOT c.convalidated"
        )
        return [f"invalid index: {r[0]}" for r in indexes] + [
            f"constraint not validated: {r[0]}" for r in constraints
        ]
