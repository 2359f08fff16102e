"""API tokens (§11): bearer secrets scoped to one workspace, acting as one principal.

A token reads `sbt_<key id>_<secret>`. The key id is public (it names the token in lists and
logs); the whole token is stored only as its SHA-256 digest, so the database never holds a
usable secret. A presented token is looked up by its key id and its digest compared in
constant time. The token acts as `user_id` in its workspace under the §3 rules; an `admin`
token acts as a workspace admin (every role), like a configured admin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from core.clock import Clock
from core.errors import NotFound, UsageError
from core.records.tokens import ApiToken, TokenStore
from core.users import PRINCIPAL

PREFIX = "sbt_"
_SHAPE = re.compile(r"sbt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_NAME = PRINCIPAL
# Where a workspace's notifications go: a chat platform, or `api` (none; see NoChatDelivery).
WORKSPACE_PLATFORMS = ("slack", "discord", "console", "api")
USED_EVERY = timedelta(minutes=5)  # `last_used_at` is refreshed at most this often


def digest(secret: str) -> str:
    """The SHA-256 hex digest kept in place of a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    """Create, list, revoke and check API tokens."""

    def __init__(self, tokens: TokenStore, *, clock: Clock) -> None:
        self.tokens = tokens
        self.clock = clock

    async def create(
        self, workspace: str, name: str, *, user_id: str | None = None, admin: bool = False
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (shown once; only the digest is kept)."""
        for label, value in (("workspace", workspace), ("name", name), ("user", user_id or name)):
            if not _NAME.fullmatch(value):
                raise UsageError(
                    f"The token {label} `{value[:70]}` must be 1-64 letters, digits or . _ : @ -"
                )
        platform, _, tenant = workspace.partition(":")
        if platform not in WORKSPACE_PLATFORMS or not tenant:
            raise UsageError(
                f"The token workspace `{workspace[:70]}` must be `<platform>:<id>` with platform"
                f" {', '.join(WORKSPACE_PLATFORMS)} (e.g. `slack:T0123`, or `api:acme` for one"
                " without chat)."
            )
        token_id = secrets.token_hex(8)
        secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        token = ApiToken(
            id=token_id,
            workspace=workspace,
            name=name,
            user_id=user_id or name,
            admin=admin,
            token_hash=digest(secret),
            created_at=self.clock.now(),
        )
        await self.tokens.put(token)
        return token, secret

    async def list(self, workspace: str | None = None) -> list[ApiToken]:
        return await self.tokens.every(workspace)

    async def revoke(self, token_id: str) -> ApiToken:
        """Revoke a token by its key id; revoking twice is refused as not found."""
        if not await self.tokens.revoke(token_id, at=self.clock.now()):
            raise NotFound("active API token", token_id[:40])
        token = await self.tokens.get(token_id)
        assert token is not None
        return token

    async def authenticate(self, presented: str) -> ApiToken | None:
        """The active token `presented` is, or None (wrong, unknown or revoked alike)."""
        match = _SHAPE.fullmatch(presented)
        if match is None:
            return None
        token = await self.tokens.get(match.group(1))
        if token is None or not hmac.compare_digest(token.token_hash, digest(presented)):
            return None
        if not token.active:
            return None
        now = self.clock.now()
        if token.last_used_at is None or now - token.last_used_at >= USED_EVERY:
            await self.tokens.used(token.id, at=now)
            token.last_used_at = now
        return token


__all__ = ["PREFIX", "TokenService", "digest"]
