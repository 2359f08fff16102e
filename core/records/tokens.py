"""An API token as stored (§11), and what the token service needs from a store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.models import Actor, Source


@dataclass(slots=True)
class ApiToken:
    """A stored token: everything but the secret itself."""

    id: str
    workspace: str
    name: str
    user_id: str
    admin: bool
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def actor(self) -> Actor:
        """The principal this token acts as."""
        return Actor(self.workspace, self.user_id, Source.API, platform_admin=self.admin)


class TokenStore(Protocol):
    """What the token service needs from a store (`store.tokens`)."""

    async def put(self, token: ApiToken) -> None: ...
    async def get(self, token_id: str) -> ApiToken | None: ...
    async def every(self, workspace: str | None = None) -> list[ApiToken]: ...
    async def revoke(self, token_id: str, *, at: datetime) -> bool: ...
    async def used(self, token_id: str, *, at: datetime) -> None: ...
