"""Who works on a session with its owner (SPEC §3): share, transfer, unshare."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock
from core.errors import NotFound, UsageError
from core.models import Actor, EventType, Member, Role, Session
from core.permissions import Perm
from core.services.sessions import Lifecycle
from core.states import Action
from core.store import ops
from core.store.store import Store
from core.users import check_user_id
from core.views import mention


@dataclass(slots=True)
class Handover:
    session: Session
    previous_owner: str


@dataclass(slots=True)
class Membership:
    store: Store
    clock: Clock
    sessions: Lifecycle

    async def share(
        self,
        actor: Actor,
        ref: str | None,
        user_id: str,
        *,
        role: Role = Role.EDITOR,
        channel_id: str | None = None,
    ) -> Session:
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if role is Role.OWNER:
            raise UsageError(
                "A session has one owner; hand it over with `/session transfer [ref] @name`."
            )
        if user_id == session.owner_id:
            raise UsageError(f"{mention(user_id)} already owns session #{session.ref}.")
        member = Member(user_id, role, actor.user_id, self.clock.now())
        return await self.sessions.transition(
            actor,
            session,
            Action.SHARE,
            EventType.SHARED,
            data={"role": role.value, "user_id": user_id},
            extra=[ops.PutMember(session.id, member)],
        )

    async def _membership(
        self, actor: Actor, ref: str | None, user_id: str, channel_id: str | None
    ) -> tuple[str, Session]:
        """The checked user id and the session whose members the owner (or an admin) changes."""
        user_id = check_user_id(actor.workspace, user_id)
        session = await self.sessions.find_for(actor, ref, Perm.MANAGE, channel_id=channel_id)
        return user_id, session

    async def transfer(
        self, actor: Actor, ref: str | None, user_id: str, *, channel_id: str | None = None
    ) -> Handover:
        """The owner (or an admin) hands the session over; the old owner stays as an editor."""
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if user_id == session.owner_id:
            raise UsageError(f"{mention(user_id)} already owns session #{session.ref}.")
        now = self.clock.now()
        owner = Member(user_id, Role.OWNER, actor.user_id, now)
        previous = Member(session.owner_id, Role.EDITOR, actor.user_id, now)
        moved = await self.sessions.transition(
            actor,
            session,
            Action.SHARE,
            EventType.TRANSFERRED,
            changes={"owner_id": user_id},
            data={"user_id": user_id, "previous_owner": session.owner_id},
            extra=[ops.PutMember(session.id, owner), ops.PutMember(session.id, previous)],
        )
        return Handover(moved, session.owner_id)

    async def unshare(
        self, actor: Actor, ref: str | None, user_id: str, *, channel_id: str | None = None
    ) -> Session:
        """The owner (or an admin) removes a member; the owner can only be replaced."""
        user_id, session = await self._membership(actor, ref, user_id, channel_id)
        if user_id == session.owner_id:
            raise UsageError(
                f"{mention(user_id)} owns session #{session.ref}; "
                "hand it over first with `/session transfer`."
            )
        roles = {m.user_id: m.role for m in await self.store.sessions.members(session.id)}
        if user_id not in roles:
            raise NotFound("member", f"{mention(user_id)} of session #{session.ref}")
        return await self.sessions.transition(
            actor,
            session,
            Action.SHARE,
            EventType.UNSHARED,
            data={"user_id": user_id, "role": roles[user_id].value},
            extra=[ops.RemoveMember(session.id, user_id)],
        )
