"""Chat-app installations per workspace (multi-workspace OAuth) and one-use OAuth state values."""

from __future__ import annotations

from datetime import datetime

from core.records.installations import InstallationRecord
from core.store.db import Database, Tx
from core.store.decode import rows
from core.store.writes import insert, replacing

_I = f"SELECT {rows.installation.columns} FROM installations"
_BY_KEY = "platform = ? AND enterprise_id = ? AND team_id = ?"
# A reinstall of the same (platform, enterprise, team) replaces every other column.
_REINSTALLED = replacing(
    "platform, enterprise_id, team_id",
    "bot_token, bot_user_id, bot_id, scopes, installer_id, installed_at, data",
)


class Installations:
    """Installations keyed by (platform, enterprise, team), and OAuth `state` values."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, record: InstallationRecord) -> None:
        """Insert or replace the install of one (platform, enterprise, team): a reinstall wins."""
        scopes = ",".join(record.scopes)
        columns = rows.installation.columns
        await self.db.execute(
            *insert("installations", columns, record, _REINSTALLED, scopes=scopes)
        )

    async def get(
        self, platform: str, *, team_id: str, enterprise_id: str = ""
    ) -> InstallationRecord | None:
        """The install with exactly this key (empty strings for absent ids)."""
        row = await self.db.fetchone(f"{_I} WHERE {_BY_KEY}", (platform, enterprise_id, team_id))
        return rows.installation(row) if row else None

    async def for_team(self, platform: str, team_id: str) -> InstallationRecord | None:
        """The latest install in a workspace, whatever enterprise it belongs to."""
        row = await self.db.fetchone(
            f"{_I} WHERE platform = ? AND team_id = ? ORDER BY installed_at DESC LIMIT 1",
            (platform, team_id),
        )
        return rows.installation(row) if row else None

    async def every(self, platform: str) -> list[InstallationRecord]:
        found = await self.db.fetchall(
            f"{_I} WHERE platform = ? ORDER BY enterprise_id, team_id", (platform,)
        )
        return [rows.installation(r) for r in found]

    async def delete(self, platform: str, *, team_id: str, enterprise_id: str = "") -> bool:
        deleted = await self.db.execute(
            f"DELETE FROM installations WHERE {_BY_KEY}", (platform, enterprise_id, team_id)
        )
        return deleted > 0

    async def put_oauth_state(self, state: str, *, platform: str, expires_at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO oauth_states (state, platform, expires_at) VALUES (?, ?, ?)",
            (state, platform, expires_at),
        )

    async def consume_oauth_state(self, state: str, *, platform: str, now: datetime) -> bool:
        """Use a state value once: true only if it was issued and has not expired."""

        async def consume(tx: Tx) -> bool:
            used = await tx.execute(
                "DELETE FROM oauth_states WHERE state = ? AND platform = ? AND expires_at > ?",
                (state, platform, now),
            )
            await tx.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (now,))
            return used > 0

        return await self.db.write(consume)
