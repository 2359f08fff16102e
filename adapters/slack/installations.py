"""slack_sdk's installation and OAuth state stores on our database (multi-workspace OAuth).

Bolt saves what `oauth.v2.access` returned through `SlackInstallationStore` and reads it back
on every request (its authorize step); delivery asks `token_for("slack:T…")`. Everything goes
through core's `InstallationStore` (`store.installations`), so installs survive restarts and
are shared by replicas.
Tokens are secrets: nothing here logs them, and `InstallationRecord` keeps them out of `repr()`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from adapters.slack.delivery import PLATFORM
from core.clock import Clock
from core.records.installations import InstallationRecord, InstallationStore

_log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)  # Bolt's cookie lives as long (state_expiration_seconds)
_WORKSPACE_PREFIX = f"{PLATFORM}:"


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """A slack_sdk `to_dict_for_copying()` without the bot token, datetimes as ISO text."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
        if key != "bot_token"
    }


def _record(installation: Installation | Bot, installer_id: str | None) -> InstallationRecord:
    enterprise = "" if installation.enterprise_id is None else installation.enterprise_id
    # An org-wide install has no team: it is keyed by the enterprise alone.
    team = "" if installation.is_enterprise_install else installation.team_id or ""
    return InstallationRecord(
        platform=PLATFORM,
        enterprise_id=enterprise,
        team_id=team,
        bot_token=installation.bot_token or "",
        bot_user_id=installation.bot_user_id,
        bot_id=installation.bot_id,
        scopes=tuple(installation.bot_scopes or ()),
        installer_id=installer_id,
        installed_at=datetime.fromtimestamp(installation.installed_at, tz=UTC),
        data=_plain(installation.to_dict_for_copying()),
    )


def _installation(record: InstallationRecord) -> Installation:
    values = dict(record.data)
    values.setdefault("user_id", record.installer_id or "")
    values["bot_token"] = record.bot_token
    return Installation(**values)


def _bot(record: InstallationRecord) -> Bot:
    return _installation(record).to_bot()


def team_of(workspace: str) -> str | None:
    """`slack:T0001` → `T0001`; None for another platform's workspace."""
    if not workspace.startswith(_WORKSPACE_PREFIX):
        return None
    return workspace[len(_WORKSPACE_PREFIX) :] or None


def _key(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> dict[str, str]:
    team = "" if is_enterprise_install else team_id or ""
    return {"team_id": team, "enterprise_id": enterprise_id or ""}


class SlackInstallationStore(AsyncInstallationStore):
    """slack_sdk's `AsyncInstallationStore` over core's installation table: one bot per team."""

    def __init__(self, store: InstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_save(self, installation: Installation) -> None:
        await self.store.put(_record(installation, installation.user_id))
        _log.info(
            "Slack app installed in team %s (enterprise %s) by %s",
            installation.team_id,
            installation.enterprise_id,
            installation.user_id,
        )

    async def async_save_bot(self, bot: Bot) -> None:
        """A rotated bot token: keep the installer and the rest of the stored record."""
        key = _key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        known = await self.store.get(PLATFORM, **key)
        fresh = _record(bot, known.installer_id if known else None)
        if known is not None:
            fresh = replace(fresh, data={**known.data, **fresh.data})
        await self.store.put(fresh)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        key = _key(enterprise_id, team_id, is_enterprise_install)
        record = await self.store.get(PLATFORM, **key)
        return _bot(record) if record else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        key = _key(enterprise_id, team_id, is_enterprise_install)
        record = await self.store.get(PLATFORM, **key)
        if record is None or (user_id is not None and user_id != record.installer_id):
            return None  # bot-only installs: no per-user installation exists
        return _installation(record)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        if user_id is not None:
            return  # one bot install per team; a user's revocation leaves it in place
        deleted = await self.store.delete(
            PLATFORM, team_id=team_id or "", enterprise_id=enterprise_id or ""
        )
        if deleted:
            _log.info("Slack installation of team %s removed", team_id)

    async def token_for(self, workspace: str) -> str | None:
        """The bot token of a `slack:T…` workspace, or None if the app is not installed there."""
        team = team_of(workspace)
        if team is None:
            return None
        record = await self.store.for_team(PLATFORM, team)
        return record.bot_token if record and record.bot_token else None


class SlackOAuthStateStore(AsyncOAuthStateStore):
    """One-use OAuth `state` values in the database, valid for `STATE_TTL`."""

    def __init__(self, store: InstallationStore, clock: Clock, *, ttl: timedelta = STATE_TTL):
        self.store = store
        self.clock = clock
        self.ttl = ttl

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        expires_at = self.clock.now() + self.ttl
        await self.store.put_oauth_state(state, platform=PLATFORM, expires_at=expires_at)
        return state

    async def async_consume(self, state: str | None) -> bool:
        if not state:
            return False
        return await self.store.consume_oauth_state(state, platform=PLATFORM, now=self.clock.now())
