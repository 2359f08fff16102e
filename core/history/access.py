"""Permission checks of §3 for the history feature, built from the public permission table."""

from __future__ import annotations

from core.models import Actor, Session
from core.permissions import Perm, is_admin, require, roles_of
from core.service import SessionService


async def is_workspace_admin(service: SessionService, actor: Actor) -> bool:
    settings = await service.settings(actor.workspace)
    return is_admin(actor, settings, service.config.admins)


async def require_perm(service: SessionService, actor: Actor, session: Session, perm: Perm) -> None:
    """Raise Forbidden unless the actor's roles on `session` (or admin) grant `perm`."""
    if perm is Perm.READ:
        return  # any member of the workspace; the session was found in the actor's workspace
    members = {m.user_id: m.role for m in await service.store.sessions.members(session.id)}
    roles = roles_of(actor.user_id, session, members)
    require(perm, admin=await is_workspace_admin(service, actor), roles=roles)
