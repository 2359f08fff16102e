"""Workspace settings (§1): defaults from configuration, overrides stored per workspace."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.clock import Clock
from core.durations import format_duration, parse_duration
from core.errors import UsageError
from core.models import WorkspaceSettings
from core.store import ops
from core.store.store import Store
from core.users import parse_user, user_ref
from core.views import escape

DURATION_KEYS = (
    "abandon_after",
    "archive_after",
    "retention",
    "remind_pending_after",
    "remind_paused_after",
    "abandon_warning_before",
)
SELF_APPROVAL_KEYS = ("self_approval", "high_risk_self_approval")
PEOPLE_KEYS = ("admins", "escalation_approvers")
KEYS = (
    *DURATION_KEYS,
    "approval_expires_after",
    *SELF_APPROVAL_KEYS,
    "admins",
    "timezone",
    "remind_requests",
    "escalation_approvers",
    "escalation_channel",
)
# A channel as typed: `<#C0123|general>` (Slack), `<#1234…>` (Discord), `#name` or a bare id.
_CHANNEL = re.compile(
    r"<#([A-Za-z0-9]{1,32})(?:\|[^<>]{0,80})?>|#?([A-Za-z0-9][A-Za-z0-9._-]{0,79})"
)
CACHE_FOR = timedelta(seconds=5)


class Settings:
    """Each workspace's effective settings, cached for a few seconds on the injected clock
    (a change made through `put` applies at once; one made by another replica within seconds)."""

    def __init__(self, store: Store, defaults: WorkspaceSettings, clock: Clock) -> None:
        self.store = store
        self.defaults = defaults
        self.clock = clock
        self._cache: dict[str, tuple[datetime, WorkspaceSettings]] = {}  # until, value

    async def get(self, workspace: str) -> WorkspaceSettings:
        now = self.clock.now()
        cached = self._cache.get(workspace)
        if cached is not None and now < cached[0]:
            return cached[1]
        settings = effective_settings(
            self.defaults, await self.store.workspaces.settings(workspace)
        )
        self._cache[workspace] = (now + CACHE_FOR, settings)
        return settings

    async def put(self, workspace: str, key: str, text: str) -> WorkspaceSettings:
        """Validate and store one setting typed by an admin; returns the effective settings."""
        value = parse_setting(key, text, workspace=workspace)
        stored = await self.store.workspaces.settings(workspace)
        stored[key] = value
        await self.store.apply([ops.PutSettings(workspace, stored)])
        self._cache.pop(workspace, None)
        return await self.get(workspace)


def effective_settings(defaults: WorkspaceSettings, stored: dict[str, Any]) -> WorkspaceSettings:
    """Defaults overridden by what a workspace stored (durations kept as seconds)."""
    if not stored:
        return defaults
    changes: dict[str, Any] = {}
    for key, value in stored.items():
        if key in DURATION_KEYS:
            changes[key] = timedelta(seconds=value)
        elif key == "approval_expires_after":
            changes[key] = timedelta(seconds=value) if value else None
        elif key in PEOPLE_KEYS:  # lists stored before ids were checked may hold `@alice`
            changes[key] = tuple(parse_user(v) or v for v in value)
        elif key in (*SELF_APPROVAL_KEYS, "timezone", "remind_requests", "escalation_channel"):
            changes[key] = value
    return dataclasses.replace(defaults, **changes)


def parse_setting(key: str, text: str, *, workspace: str) -> Any:
    """Validate a value typed by an admin in `workspace`; returns what is stored (JSON-able)."""
    if key not in KEYS:
        raise UsageError(f"Unknown setting `{escape(key[:40])}`. Settings: {', '.join(KEYS)}.")
    text = text.strip()
    try:
        if key in DURATION_KEYS:
            return int(parse_duration(text).total_seconds())
        if key == "approval_expires_after":
            return None if text in ("none", "off") else int(parse_duration(text).total_seconds())
    except ValueError as exc:
        raise UsageError(f"Bad value for {key}: {exc}") from None
    if key in SELF_APPROVAL_KEYS:
        if text not in ("allowed", "forbidden"):
            raise UsageError(f"{key} is `allowed` or `forbidden`.")
        return text
    if key == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"`{escape(text[:60])}` is not an IANA timezone like Europe/Paris."
            ) from None
        return text
    if key == "remind_requests":
        if text not in ("on", "off"):
            raise UsageError("remind_requests is `on` or `off`.")
        return text
    if key == "escalation_channel":
        return None if text in ("none", "off") else channel_ref(text)
    if text in ("none", "off"):
        return []
    # People as they are written (`@alice`, `<@U0BOB|bob>`, a bare id), stored as checked ids.
    return list(dict.fromkeys(user_ref(workspace, word) for word in text.replace(",", " ").split()))


def channel_ref(text: str) -> str:
    """A channel as typed (`<#C0123|general>`, `<#1234>`, `#name`, a bare id) → its id."""
    match = _CHANNEL.fullmatch(text.strip())
    if match is None:
        shown = "".join(c if c.isalnum() or c in "._-" else "?" for c in text[:40])
        raise UsageError(f"`{shown}` is not a channel; mention it as #channel.")
    return match.group(1) or match.group(2)


def describe(settings: WorkspaceSettings) -> dict[str, str]:
    """Every setting as display text, in KEYS order."""
    shown: dict[str, str] = {}
    for key in KEYS:
        value = getattr(settings, key)
        if isinstance(value, timedelta):
            shown[key] = format_duration(value)
        elif value is None:
            shown[key] = "none"
        elif isinstance(value, tuple):
            shown[key] = ", ".join(value) or "none"
        else:
            shown[key] = str(value)
    return shown
