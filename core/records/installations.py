"""A chat app's installation in one workspace (multi-workspace OAuth): who, when, which token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class InstallationRecord:
    """One platform install; `bot_token` is a secret, so it is left out of `repr()`.

    `team_id` is empty for an org-wide install and `enterprise_id` is empty outside an
    enterprise; `data` keeps the platform's own record (without the bot token) for round trips.
    """

    platform: str
    team_id: str
    bot_token: str = field(repr=False)
    installed_at: datetime
    enterprise_id: str = ""
    bot_user_id: str | None = None
    bot_id: str | None = None
    scopes: tuple[str, ...] = ()
    installer_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)


class InstallationStore(Protocol):
    """Installations per workspace and OAuth state values (`store.installations`)."""

    async def put(self, record: InstallationRecord) -> None: ...
    async def get(
        self, platform: str, *, team_id: str, enterprise_id: str = ""
    ) -> InstallationRecord | None: ...
    async def for_team(self, platform: str, team_id: str) -> InstallationRecord | None: ...
    async def every(self, platform: str) -> list[InstallationRecord]: ...
    async def delete(self, platform: str, *, team_id: str, enterprise_id: str = "") -> bool: ...
    async def put_oauth_state(self, state: str, *, platform: str, expires_at: datetime) -> None: ...
    async def consume_oauth_state(self, state: str, *, platform: str, now: datetime) -> bool: ...
