"""API tokens, and the responses kept for Idempotency-Key replays."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.errors import Conflict
from core.records.idempotency import StoredResponse
from core.records.tokens import ApiToken
from core.store.db import Database, Tx
from core.store.decode import rows
from core.store.writes import insert

_T = f"SELECT {rows.token.columns} FROM api_tokens"


class Tokens:
    """API tokens: stored by digest, revoked by keeping the row with `revoked_at` set."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, token: ApiToken) -> None:
        """Insert a new token; an active token of the same name in the workspace is a Conflict."""
        once = " ON CONFLICT DO NOTHING"
        if await self.db.execute(*insert("api_tokens", rows.token.columns, token, once)) != 1:
            raise Conflict(
                f"An active API token named {token.name} already exists in {token.workspace}; "
                "revoke it first or pick another name."
            )

    async def get(self, token_id: str) -> ApiToken | None:
        row = await self.db.fetchone(f"{_T} WHERE id = ?", (token_id,))
        return rows.token(row) if row else None

    async def every(self, workspace: str | None = None) -> list[ApiToken]:
        """Every token (active and revoked), of one workspace when given, oldest first."""
        where, args = ("WHERE workspace = ?", (workspace,)) if workspace else ("", ())
        found = await self.db.fetchall(f"{_T} {where} ORDER BY workspace, created_at, id", args)
        return [rows.token(r) for r in found]

    async def revoke(self, token_id: str, *, at: datetime) -> bool:
        """True if an active token was revoked now."""
        revoked = await self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (at, token_id),
        )
        return revoked == 1

    async def used(self, token_id: str, *, at: datetime) -> None:
        await self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (at, token_id))


class Idempotency:
    """The first response to each Idempotency-Key, claimed in the inbound dedupe ledger."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, key: str, request_hash: str, *, now: datetime, lease: timedelta
    ) -> StoredResponse | None:
        """Claim `key` in the inbound ledger with the request's fingerprint, atomically.

        A concurrent claim of the same key waits for the first one's commit (SQLite's single
        writer, PostgreSQL's key lock), then finds its row: exactly one request runs, the other
        replays (or waits for) its response.
        """

        async def claim(tx: Tx) -> StoredResponse | None:
            if await tx.execute(
                "INSERT INTO inbound_dedupe (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, now),
            ):
                await tx.execute(
                    "INSERT INTO api_responses (key, request_hash) VALUES (?, ?)",
                    (key, request_hash),
                )
                return None
            row = await tx.fetchone(
                "SELECT request_hash, status, body FROM api_responses WHERE key = ?", (key,)
            )
            if row is None:  # claimed by something other than the API: never act on it
                return StoredResponse(request_hash="")
            if row["status"] is None and row["request_hash"] == request_hash:
                taken = await tx.execute(
                    "UPDATE inbound_dedupe SET seen_at = ? WHERE key = ? AND seen_at <= ?",
                    (now, key, now - lease),
                )
                if taken == 1:  # its first request died unanswered: act again
                    return None
            return StoredResponse(row["request_hash"], row["status"], row["body"])

        return await self.db.write(claim)

    async def finish(self, key: str, *, status: int, body: str) -> None:
        await self.db.execute(
            "UPDATE api_responses SET status = ?, body = ? WHERE key = ?", (status, body, key)
        )

    async def release(self, key: str) -> None:
        """Forget a claim whose request failed unexpectedly, so a retry may act."""
        await self.db.execute("DELETE FROM inbound_dedupe WHERE key = ?", (key,))
