"""SQLite queries of API tokens and the responses kept for Idempotency-Key replays."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from core.errors import Conflict
from core.records.idempotency import StoredResponse
from core.records.tokens import ApiToken
from core.store.codec import parse_ts, parse_ts_required, ts
from core.store.sqlite.engine import SqliteEngine

_COLUMNS = "id, workspace, name, user_id, admin, token_hash, created_at, last_used_at, revoked_at"


def _token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        workspace=row["workspace"],
        name=row["name"],
        user_id=row["user_id"],
        admin=bool(row["admin"]),
        token_hash=row["token_hash"],
        created_at=parse_ts_required(row["created_at"]),
        last_used_at=parse_ts(row["last_used_at"]),
        revoked_at=parse_ts(row["revoked_at"]),
    )


class SqliteTokens:
    """API tokens and idempotent responses; `engine` from SqliteStore."""

    engine: SqliteEngine

    async def put_api_token(self, token: ApiToken) -> None:
        """Insert a new token; an active token of the same name in the workspace is a Conflict."""
        t = token
        values = (
            t.id,
            t.workspace,
            t.name,
            t.user_id,
            int(t.admin),
            t.token_hash,
            ts(t.created_at),
            ts(t.last_used_at),
            ts(t.revoked_at),
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO api_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"An active API token named {t.name} already exists in {t.workspace}; "
                    "revoke it first or pick another name."
                ) from None

        await self.engine.write(insert)

    async def api_token(self, token_id: str) -> ApiToken | None:
        row = await self.engine.fetchone(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)
        )
        return _token(row) if row else None

    async def api_tokens(self, workspace: str | None = None) -> list[ApiToken]:
        """Every token (active and revoked), of one workspace when given, oldest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace else ("", ())
        found = await self.engine.fetchall(
            f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY workspace, created_at, id", args
        )
        return [_token(r) for r in found]

    async def revoke_api_token(self, token_id: str, *, at: datetime) -> bool:
        """True if an active token was revoked now."""
        return await self.engine.write(
            lambda conn: (
                conn.execute(
                    "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (ts(at), token_id),
                ).rowcount
                == 1
            )
        )

    async def api_token_used(self, token_id: str, *, at: datetime) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (ts(at), token_id)
            )
        )

    # -- idempotency -------------------------------------------------------------------------

    async def claim_idempotency(
        self, key: str, request_hash: str, *, now: datetime, lease: timedelta
    ) -> StoredResponse | None:
        """Claim `key` in the inbound ledger with the request's fingerprint, atomically."""

        def claim(conn: sqlite3.Connection) -> StoredResponse | None:
            cursor = conn.execute(
                "INSERT INTO inbound_dedupe (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, ts(now)),
            )
            if cursor.rowcount == 1:
                conn.execute(
                    "INSERT INTO api_responses (key, request_hash) VALUES (?, ?)",
                    (key, request_hash),
                )
                return None
            row = conn.execute(
                "SELECT request_hash, status, body FROM api_responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None:  # claimed by something other than the API: never act on it
                return StoredResponse(request_hash="")
            if row["status"] is None and row["request_hash"] == request_hash:
                taken = conn.execute(
                    "UPDATE inbound_dedupe SET seen_at = ? WHERE key = ? AND seen_at <= ?",
                    (ts(now), key, ts(now - lease)),
                )
                if taken.rowcount == 1:  # its first request died unanswered: act again
                    return None
            return StoredResponse(row["request_hash"], row["status"], row["body"])

        return await self.engine.write(claim)

    async def finish_idempotency(self, key: str, *, status: int, body: str) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "UPDATE api_responses SET status = ?, body = ? WHERE key = ?", (status, body, key)
            )
        )

    async def release_idempotency(self, key: str) -> None:
        await self.engine.write(
            lambda conn: conn.execute("DELETE FROM inbound_dedupe WHERE key = ?", (key,))
        )
