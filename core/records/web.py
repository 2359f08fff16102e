"""The web inbox's sign-in as stored: one-time login links and signed-in browser sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import Actor, Source


@dataclass(slots=True)
class WebLogin:
    """A one-time login link: everything but its token (only the token's digest is kept)."""

    token_hash: str
    workspace: str
    user_id: str
    admin: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(slots=True)
class WebSession:
    """A signed-in browser: whose it is, its CSRF token and its deadlines."""

    id_hash: str
    workspace: str
    user_id: str
    admin: bool
    csrf: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None

    def actor(self) -> Actor:
        """The person this browser acts as, with the same roles as in chat."""
        return Actor(self.workspace, self.user_id, Source.WEB, platform_admin=self.admin)
