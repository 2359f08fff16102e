"""Discord's OAuth2 endpoints as the web's sign-in uses them (server to server): a code for a
Bearer token (scopes `identify guilds`), then who the person is and which guilds they are in."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from core.errors import Forbidden

_log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)
DEFAULT_ORIGIN = "https://discord.com"
SCOPES = "identify guilds"
SNOWFLAKE = re.compile(r"[0-9]{1,20}")


def refused(detail: str) -> Forbidden:
    return Forbidden("sign in with Discord", ["a member of a server with this bot"], detail=detail)


@dataclass(frozen=True, slots=True)
class DiscordSignIn:
    """The application's OAuth2 credentials and Discord's origin (from DISCORD_API_URL: the
    local fake in tests); `guild_ids` are the configured DISCORD_GUILD_IDS."""

    client_id: str
    client_secret: str
    origin: str = DEFAULT_ORIGIN
    guild_ids: tuple[str, ...] = ()

    @classmethod
    def at(cls, client_id: str, client_secret: str, api_url: str | None,
           guild_ids: tuple[str, ...] = ()) -> DiscordSignIn:  # fmt: skip
        """Credentials with the origin of a REST base such as `https://discord.com/api/v10`."""
        parts = urlsplit(api_url or DEFAULT_ORIGIN)
        return cls(client_id, client_secret, f"{parts.scheme}://{parts.netloc}", guild_ids)

    @property
    def authorize_url(self) -> str:
        return f"{self.origin}/oauth2/authorize"

    async def identify(self, code: str, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """(user id, {guild id: name} of the guilds they are in) of the person who granted
        `code` (used once), or Forbidden."""
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            form = {"client_id": self.client_id, "client_secret": self.client_secret,
                    "grant_type": "authorization_code", "code": code,
                    "redirect_uri": redirect_uri}  # fmt: skip
            async with http.post(f"{self.origin}/api/oauth2/token", data=form) as answer:
                granted = await answer.json(content_type=None)
            token = granted.get("access_token") if isinstance(granted, dict) else None
            if answer.status != 200 or not isinstance(token, str):
                error = granted.get("error", "no token") if isinstance(granted, dict) else "?"
                _log.info("Discord refused a sign-in code: %s", str(error)[:80])
                raise refused("Discord refused the sign-in (the code was used or has expired).")
            scopes = str(granted.get("scope", "")).split()
            if "identify" not in scopes or "guilds" not in scopes:
                raise refused("Discord did not grant both `identify` and `guilds`.")
            headers = {"Authorization": f"Bearer {token}"}
            me = await _get(http, f"{self.origin}/api/users/@me", headers)
            guilds = await _get(http, f"{self.origin}/api/users/@me/guilds", headers)
        user = me.get("id") if isinstance(me, dict) else None
        if (
            not isinstance(user, str)
            or not SNOWFLAKE.fullmatch(user)
            or not isinstance(guilds, list)
        ):
            raise refused("Discord did not say who you are.")
        return user, {
            g["id"]: str(g.get("name", ""))[:100]
            for g in guilds
            if isinstance(g, dict) and isinstance(g.get("id"), str) and SNOWFLAKE.fullmatch(g["id"])
        }


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with http.get(url, headers=headers) as answer:
        if answer.status != 200:
            raise refused("Discord did not say who you are.")
        return await answer.json(content_type=None)
