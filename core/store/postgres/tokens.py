"""PostgreSQL queries of API tokens and the responses kept for Idempotency-Key replays."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from asyncpg import Connection, Record

from core.errors import Conflict
from core.records.idempotency import StoredResponse
from core.records.tokens import ApiToken
from core.store.postgres.engine import PgEngine, affected

_COLUMNS = "id, workspace, name, user_id, admin, token_hash, created_at, last_used_at, revoked_at"


def _token(row: Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        workspace=row["workspace"],
        name=row["name"],
        user_id=row["user_id"],
        admin=bool(row["admin"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


class PgTokens:
    """API tokens and idempotent responses; `engine` from PostgresStore."""

    engine: PgEngine

    async def put_api_token(self, token: ApiToken) -> None:
        """Insert a new token; an active token of the same name in the workspace is a Conflict."""
        t = token

        async def insert(conn: Connection) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO api_tokens ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                    " $8, $9)",
                    t.id, t.workspace, t.name, t.user_id, t.admin, t.token_hash, t.created_at,
                    t.last_used_at, t.revoked_at,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:
                raise Conflict(
                    f"An active API token named {t.name} already exists in {t.workspace}; "
                    "revoke it first or pick another name."
                ) from None

        await self.engine.write(insert)

    async def api_token(self, token_id: str) -> ApiToken | None:
        row = await self.engine.fetchone(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE id = $1", (token_id,)
        )
        return _token(row) if row else None

    async def api_tokens(self, workspace: str | None = None) -> list[ApiToken]:
        """Every token (active and revoked), of one workspace when given, oldest first."""
        where, args = ("WHERE workspace = $1", (workspace,)) if workspace else ("", ())
        found = await self.engine.fetchall(
            f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY workspace, created_at, id", args
        )
        return [_token(r) for r in found]

    async def revoke_api_token(self, token_id: str, *, at: datetime) -> bool:
        """True if an active token was revoked now."""
        revoked = await self.engine.execute(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            (at, token_id),
        )
        return revoked == 1

    async def api_token_used(self, token_id: str, *, at: datetime) -> None:
        await self.engine.execute(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", (at, token_id)
        )

    # -- idempotency -------------------------------------------------------------------------

    async def claim_idempotency(
        self, key: str, request_hash: str, *, now: datetime, lease: timedelta
    ) -> StoredResponse | None:
        """Claim `key` in the inbound ledger with the request's fingerprint, atomically.

        A concurrent claim of the same key waits for the first one's commit, then finds its
        row: exactly one request runs, the other replays (or waits for) its response.
        """

        async def claim(conn: Connection) -> StoredResponse | None:
            status = await conn.execute(
                "INSERT INTO inbound_dedupe (key, seen_at) VALUES ($1, $2)"
                " ON CONFLICT (key) DO NOTHING",
                key, now,
            )  # fmt: skip
            if affected(status) == 1:
                await conn.execute(
                    "INSERT INTO api_responses (key, request_hash) VALUES ($1, $2)",
                    key, request_hash,
                )  # fmt: skip
                return None
            row = await conn.fetchrow(
                "SELECT request_hash, status, body FROM api_responses WHERE key = $1", key
            )
            if row is None:  # claimed by something other than the API: never act on it
                return StoredResponse(request_hash="")
            if row["status"] is None and row["request_hash"] == request_hash:
                taken = await conn.execute(
                    "UPDATE inbound_dedupe SET seen_at = $2 WHERE key = $1 AND seen_at <= $3",
                    key, now, now - lease,
                )  # fmt: skip
                if affected(taken) == 1:  # its first request died unanswered: act again
                    return None
            return StoredResponse(row["request_hash"], row["status"], row["body"])

        return await self.engine.write(claim)

    async def finish_idempotency(self, key: str, *, status: int, body: str) -> None:
        await self.engine.execute(
            "UPDATE api_responses SET status = $1, body = $2 WHERE key = $3", (status, body, key)
        )

    async def release_idempotency(self, key: str) -> None:
        await self.engine.execute("DELETE FROM inbound_dedupe WHERE key = $1", (key,))
