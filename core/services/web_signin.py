"""Signing in to the web inbox, in core (no HTTP here: bot/web serves it).

Sign-in is by a one-time link (`sessionbot web login`): a random token whose SHA-256 digest
alone is stored, taken at most once (the store's guarded UPDATE) before it expires. Taking it
(or a platform's sign-in, bot/web/slack_signin.py) opens a browser session: a random id (kept
as its digest too) with its own CSRF token, ended after `idle` without a request, at `absolute`
whatever happens, or at logout. Times come from the injected clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import Clock
from core.errors import Forbidden, UsageError
from core.records.web import WebLogin, WebSession
from core.store.store import Store
from core.tokens import WORKSPACE_PLATFORMS
from core.users import PRINCIPAL, check_user_id


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WebTimeouts:
    link: timedelta = timedelta(minutes=15)  # a login link is refused after this
    idle: timedelta = timedelta(hours=1)  # a browser session ends this long after its last request
    absolute: timedelta = timedelta(hours=12)  # and this long after sign-in, whatever happens


@dataclass(slots=True)
class SignIn:
    store: Store
    clock: Clock
    timeouts: WebTimeouts = field(default_factory=WebTimeouts)

    async def link(self, workspace: str, user_id: str, *, admin: bool = False) -> str:
        """A new one-time login token for `user_id` of `workspace` (only its digest is kept)."""
        platform, _, tenant = workspace.partition(":")
        if platform not in WORKSPACE_PLATFORMS or not tenant or not PRINCIPAL.fullmatch(workspace):
            raise UsageError(
                f"The workspace `{workspace[:70]}` must be `<platform>:<id>` with platform "
                f"{', '.join(WORKSPACE_PLATFORMS)} (e.g. `slack:T0123`)."
            )
        user_id = check_user_id(workspace, user_id.strip().removeprefix("@"))
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        await self.store.web.put_link(
            WebLogin(digest(token), workspace, user_id, admin, now, now + self.timeouts.link)
        )
        return token

    async def take(self, token: str) -> tuple[WebSession, str]:
        """Sign in with a link's token: the new browser session and the id its cookie carries.
        A wrong, used or expired token is refused alike (Forbidden)."""
        now = self.clock.now()
        login = None
        if 20 <= len(token) <= 100 and token.isascii():
            login = await self.store.web.take_link(digest(token), now=now)
        if login is None:
            raise Forbidden(
                "sign in", ["holder of a fresh link"], detail="this link is wrong, used or expired."
            )
        return await self.open(login.workspace, login.user_id, admin=login.admin)

    async def open(
        self, workspace: str, user_id: str, *, admin: bool = False
    ) -> tuple[WebSession, str]:
        """A new browser session for someone whose identity was checked (a link, a platform's
        sign-in): the session and the id its cookie carries (only its digest is stored)."""
        now = self.clock.now()
        session_id = secrets.token_urlsafe(32)
        session = WebSession(
            id_hash=digest(session_id),
            workspace=workspace,
            user_id=check_user_id(workspace, user_id),
            admin=admin,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            seen_at=now,
            expires_at=now + self.timeouts.absolute,
        )
        await self.store.web.put_session(session)
        await self.store.web.purge(now=now)  # links and sessions past their deadline
        return session, session_id

    async def tenants(self, platform: str) -> set[str]:
        """The ids of the `platform`'s workspaces the store knows (e.g. the Discord guilds
        where sessions were started or settings stored)."""
        prefix = f"{platform}:"
        names = await self.store.workspaces.names()
        return {w.removeprefix(prefix) for w in names if w.startswith(prefix)}

    async def current(self, session_id: str) -> WebSession | None:
        """The live browser session a cookie names (its idle clock restarted), else None."""
        found = await self.store.web.session(digest(session_id))
        now = self.clock.now()
        if found is None or not self.live(found, now):
            return None
        if now - found.seen_at >= timedelta(seconds=30):  # at most one write per half minute
            await self.store.web.seen(found.id_hash, at=now)
            found.seen_at = now
        return found

    async def still_live(self, session: WebSession) -> bool:
        """Whether a browser session is still live now (not signed out, not timed out): asked
        by a live page's stream at each wake-up."""
        found = await self.store.web.session(session.id_hash)
        return found is not None and self.live(found, self.clock.now())

    def live(self, session: WebSession, now: datetime) -> bool:
        return (
            session.ended_at is None
            and now < session.expires_at
            and now - session.seen_at < self.timeouts.idle
        )

    async def end(self, session: WebSession) -> None:
        await self.store.web.end(session.id_hash, at=self.clock.now())


def same_token(given: str | None, expected: str) -> bool:
    """A CSRF token compared in constant time."""
    return bool(given) and hmac.compare_digest((given or "").encode(), expected.encode())
