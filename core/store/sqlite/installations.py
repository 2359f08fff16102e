"""SQLite queries of chat-app installations (multi-workspace OAuth) and OAuth state values."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from core.records.installations import InstallationRecord
from core.store.codec import dumps, loads, parse_ts_required, ts
from core.store.sqlite.engine import SqliteEngine

_COLUMNS = (
    "platform, enterprise_id, team_id, bot_token, bot_user_id, bot_id, scopes, installer_id,"
    " installed_at, data"
)


def _installation(row: sqlite3.Row) -> InstallationRecord:
    scopes = tuple(s for s in str(row["scopes"]).split(",") if s)
    return InstallationRecord(
        platform=row["platform"],
        enterprise_id=row["enterprise_id"],
        team_id=row["team_id"],
        bot_token=row["bot_token"],
        bot_user_id=row["bot_user_id"],
        bot_id=row["bot_id"],
        scopes=scopes,
        installer_id=row["installer_id"],
        installed_at=parse_ts_required(row["installed_at"]),
        data=loads(row["data"]),
    )


class SqliteInstallations:
    """Installations keyed by (platform, enterprise, team); `engine` from SqliteStore."""

    engine: SqliteEngine

    async def put_installation(self, record: InstallationRecord) -> None:
        """Insert or replace the install of one (platform, enterprise, team): a reinstall wins."""
        r = record
        values = (
            r.platform,
            r.enterprise_id,
            r.team_id,
            r.bot_token,
            r.bot_user_id,
            r.bot_id,
            ",".join(r.scopes),
            r.installer_id,
            ts(r.installed_at),
            dumps(r.data),
        )
        await self.engine.write(
            lambda conn: conn.execute(
                f"INSERT INTO installations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, enterprise_id, team_id) DO UPDATE SET"
                " bot_token = excluded.bot_token, bot_user_id = excluded.bot_user_id,"
                " bot_id = excluded.bot_id, scopes = excluded.scopes,"
                " installer_id = excluded.installer_id, installed_at = excluded.installed_at,"
                " data = excluded.data",
                values,
            )
        )

    async def installation(
        self, platform: str, *, team_id: str, enterprise_id: str = ""
    ) -> InstallationRecord | None:
        """The install with exactly this key (empty strings for absent ids)."""
        row = await self.engine.fetchone(
            f"SELECT {_COLUMNS} FROM installations"
            " WHERE platform = ? AND enterprise_id = ? AND team_id = ?",
            (platform, enterprise_id, team_id),
        )
        return _installation(row) if row else None

    async def installation_for_team(self, platform: str, team_id: str) -> InstallationRecord | None:
        """The latest install in a workspace, whatever enterprise it belongs to."""
        row = await self.engine.fetchone(
            f"SELECT {_COLUMNS} FROM installations WHERE platform = ? AND team_id = ?"
            " ORDER BY installed_at DESC LIMIT 1",
            (platform, team_id),
        )
        return _installation(row) if row else None

    async def installations(self, platform: str) -> list[InstallationRecord]:
        found = await self.engine.fetchall(
            f"SELECT {_COLUMNS} FROM installations WHERE platform = ?"
            " ORDER BY enterprise_id, team_id",
            (platform,),
        )
        return [_installation(r) for r in found]

    async def delete_installation(
        self, platform: str, *, team_id: str, enterprise_id: str = ""
    ) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM installations"
                " WHERE platform = ? AND enterprise_id = ? AND team_id = ?",
                (platform, enterprise_id, team_id),
            )
            return cursor.rowcount > 0

        return await self.engine.write(delete)

    async def put_oauth_state(self, state: str, *, platform: str, expires_at: datetime) -> None:
        await self.engine.write(
            lambda conn: conn.execute(
                "INSERT INTO oauth_states (state, platform, expires_at) VALUES (?, ?, ?)",
                (state, platform, ts(expires_at)),
            )
        )

    async def consume_oauth_state(self, state: str, *, platform: str, now: datetime) -> bool:
        """Use a state value once: true only if it was issued and has not expired."""

        def consume(conn: sqlite3.Connection) -> bool:
            at = ts(now)
            cursor = conn.execute(
                "DELETE FROM oauth_states WHERE state = ? AND platform = ? AND expires_at > ?",
                (state, platform, at),
            )
            conn.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (at,))
            return cursor.rowcount > 0

        return await self.engine.write(consume)
