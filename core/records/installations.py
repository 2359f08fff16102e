"""A chat app's installation in one workspace (multi-workspace OAuth): who, when, which token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
