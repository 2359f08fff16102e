"""Slack's OpenID Connect endpoints as the web's sign-in uses them (server to server)."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from core.errors import Forbidden

_log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)
DEFAULT_API = "https://slack.com/api/"


def refused(detail: str) -> Forbidden:
    return Forbidden("sign in with Slack", ["a member of the workspace"], detail=detail)


@dataclass(frozen=True, slots=True)
class SlackSignIn:
    """The app's credentials and Slack's endpoints (SLACK_API_URL in tests: the local fake)."""

    client_id: str
    client_secret: str
    api_url: str = DEFAULT_API

    @property
    def authorize_url(self) -> str:
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}/openid/connect/authorize"

    async def identify(self, code: str, redirect_uri: str, nonce: str) -> tuple[str, str]:
        """(team id, user id) of the person who granted `code` (used once), or Forbidden."""
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            form = {"client_id": self.client_id, "client_secret": self.client_secret,
                    "code": code, "redirect_uri": redirect_uri}  # fmt: skip
            async with http.post(f"{self.api_url}openid.connect.token", data=form) as answer:
                granted = await answer.json(content_type=None)
            if not granted.get("ok") or not granted.get("access_token"):
                _log.info("Slack refused a sign-in code: %s", granted.get("error", "no token"))
                raise refused("Slack refused the sign-in (the code was used or has expired).")
            if _claims(str(granted.get("id_token", ""))).get("nonce") != nonce:
                raise refused("the answer from Slack was not for this sign-in.")
            headers = {"Authorization": f"Bearer {granted['access_token']}"}
            async with http.get(f"{self.api_url}openid.connect.userInfo", headers=headers) as a:
                info = await a.json(content_type=None)
        team, user = info.get("https://slack.com/team_id"), info.get("https://slack.com/user_id")
        if not info.get("ok") or not isinstance(team, str) or not isinstance(user, str):
            raise refused("Slack did not say who you are.")
        return team, user


def _claims(id_token: str) -> dict[str, Any]:
    """The claims of an id token received straight from Slack's token endpoint over TLS (so
    its signature need not be checked, OpenID Connect Core 3.1.3.7); {} when unreadable."""
    try:
        payload = id_token.split(".")[1]
        found = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
