"""Access: who may do what on which session (SPEC §3), asked in one place by every use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import Forbidden, InvalidTransition
from core.models import Actor, Decision, Plan, Role, Session, Status
from core.permissions import (
    PERM_OF,
    Perm,
    allows,
    is_admin,
    possible_deciders,
    require,
    require_decider,
    roles_of,
)
from core.settings import Settings
from core.states import Action, allowed_from, next_status
from core.store import ops
from core.store.store import Store


@dataclass(slots=True)
class Access:
    """Roles from the session's members, admins from configuration and workspace settings."""

    store: Store
    settings: Settings
    admins: frozenset[str]

    async def is_admin(self, actor: Actor) -> bool:
        if actor.platform_admin or actor.user_id in self.admins:
            return True  # without reading the workspace's settings
        return is_admin(actor, await self.settings.get(actor.workspace), self.admins)

    async def of(self, actor: Actor, session: Session) -> tuple[bool, set[Role]]:
        """Whether the actor is an admin, and the roles they hold on `session`."""
        if session.owner_id == actor.user_id:
            return await self.is_admin(actor), {Role.OWNER}
        members = {m.user_id: m.role for m in await self.store.sessions.members(session.id)}
        return await self.is_admin(actor), roles_of(actor.user_id, session, members)

    async def require(self, actor: Actor, session: Session, perm: Perm) -> None:
        """Raise Forbidden unless `actor` holds `perm` on `session` (reading is everyone's)."""
        if perm is Perm.READ:
            return
        if session.owner_id == actor.user_id and perm is not Perm.ADMIN:
            return
        admin, roles = await self.of(actor, session)
        require(perm, admin=admin, roles=roles)

    async def require_admin(self, actor: Actor, *, action: str = Perm.ADMIN.value) -> None:
        """Refuse `action` (worded for the refusal) unless the actor is a workspace admin."""
        if not await self.is_admin(actor):
            raise Forbidden(action, ["workspace admin"])

    async def require_decision(
        self, actor: Actor, session: Session, plan: Plan, decision: Decision
    ) -> None:
        """Approvers, owners and admins decide; self-approval follows the workspace setting."""
        admin, roles = await self.of(actor, session)
        if decision is not Decision.APPROVE:
            require(Perm.DECIDE, admin=admin, roles=roles)
            return
        settings = await self.settings.get(session.workspace)
        require_decider(
            admin=admin, roles=roles, user_id=actor.user_id, plan=plan, settings=settings
        )

    async def deciders(self, session: Session, plan: Plan) -> set[str]:
        """Who is known to be able to decide `plan`: owner, approvers and named admins."""
        return await self.deciders_of(session, submitted_by=plan.submitted_by)

    async def deciders_of(
        self, session: Session, *, submitted_by: str, high_risk: bool = False
    ) -> set[str]:
        """Who is known to be able to decide what `submitted_by` asked on `session`."""
        members = await self.store.sessions.members(session.id)
        settings = await self.settings.get(session.workspace)
        return possible_deciders(
            session,
            members,
            settings,
            self.admins,
            submitted_by=submitted_by,
            high_risk=high_risk,
        )

    async def next_status(self, actor: Actor, session: Session, action: Action) -> Status:
        """The status after `action`; a refusal offers only the commands this actor may run."""
        try:
            return next_status(session.status, action, ref=session.ref)
        except InvalidTransition as exc:
            admin, roles = await self.of(actor, session)

            def may(other: Action) -> bool:
                return allows(PERM_OF.get(other, Perm.WORK), admin=admin, roles=roles)

            raise InvalidTransition(
                ref=session.ref,
                action=exc.action,
                status=exc.status,
                allowed=allowed_from(session.status, may),
                final=not exc.allowed,
            ) from None

    async def checker(
        self, actor: Actor, action: Action, perm: Perm = Perm.WORK
    ) -> Callable[[ops.SessionFacts], None]:
        """The check a write made by reference runs on the session row it locks (state, role)."""
        admin = await self.is_admin(actor)

        def check(facts: ops.SessionFacts) -> None:
            next_status(Status(facts.status), action, ref=facts.ref)
            roles = {Role.OWNER} if facts.owner_id == actor.user_id else set()
            if facts.member_role:
                roles.add(Role(facts.member_role))
            require(perm, admin=admin, roles=roles)

        return check
