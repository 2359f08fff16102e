"""Which Slack users are workspace admins or owners (§3), from `users.info`, cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

_log = logging.getLogger(__name__)

ADMIN_TTL = 10 * 60.0  # seconds a users.info answer is trusted
MAX_ENTRIES = 10_000


class AdminDirectory:
    """Answers "is this user a Slack admin/owner?" with one users.info call per TTL."""

    def __init__(
        self, *, ttl: float = ADMIN_TTL, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._monotonic = monotonic
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}
        self._asking: dict[tuple[str, str], asyncio.Future[bool]] = {}

    async def is_admin(self, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
        key = (team_id, user_id)
        cached = self._known.get(key)
        if cached is not None and cached[1] > self._monotonic():
            return cached[0]
        pending = self._asking.get(key)
        if pending is None:  # one users.info call per user, however many requests wait on it
            pending = asyncio.ensure_future(self._ask(client, key))
            self._asking[key] = pending
            pending.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(pending)

    async def _ask(self, client: AsyncWebClient, key: tuple[str, str]) -> bool:
        try:
            response = await client.users_info(user=key[1])
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            # Not knowing means "not an admin" for now; the answer is not cached.
            _log.warning("users.info failed for %s: %s", key[1], exc.__class__.__name__)
            return False
        user = response.get("user") or {}
        admin = any(user.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[key] = (admin, self._monotonic() + self.ttl)
        return admin
