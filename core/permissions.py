"""Who may do what (§3): one table, asked through `core.access.Access` before every change."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Forbidden
from core.models import Actor, Member, Plan, Role, Session, WorkspaceSettings
from core.states import Action


class Perm(StrEnum):
    """Permission classes of §3; the value is the verb used in refusals."""

    READ = "see sessions"
    WORK = "change this session"
    DECIDE = "approve or reject this plan"
    MANAGE = "share, archive or delete this session"
    ADMIN = "change workspace settings"


ADMIN = "admin"

# Which session roles satisfy a permission (admins satisfy every one).
ROLES: dict[Perm, frozenset[Role]] = {
    Perm.READ: frozenset(Role),
    Perm.WORK: frozenset({Role.OWNER, Role.EDITOR}),
    Perm.DECIDE: frozenset({Role.OWNER, Role.APPROVER}),
    Perm.MANAGE: frozenset({Role.OWNER}),
    Perm.ADMIN: frozenset(),
}

# The permission each command-driven status change needs (the rest need WORK).
PERM_OF: dict[Action, Perm] = {
    Action.APPROVE: Perm.DECIDE,
    Action.REJECT: Perm.DECIDE,
    Action.ARCHIVE: Perm.MANAGE,
}


def is_admin(actor: Actor, settings: WorkspaceSettings, config_admins: frozenset[str]) -> bool:
    """Platform admins, configured admins and workspace-setting admins are admins."""
    return (
        actor.platform_admin or actor.user_id in config_admins or actor.user_id in settings.admins
    )


def roles_of(user_id: str, session: Session, members: dict[str, Role]) -> set[Role]:
    """The roles a user holds on one session."""
    roles = {members[user_id]} if user_id in members else set()
    if session.owner_id == user_id:
        roles.add(Role.OWNER)
    return roles


def allows(perm: Perm, *, admin: bool, roles: set[Role]) -> bool:
    """Whether an admin (or not) holding `roles` has `perm`."""
    return perm is Perm.READ or admin or bool(roles & ROLES[perm])


def require(
    perm: Perm,
    *,
    admin: bool,
    roles: set[Role],
) -> None:
    """Raise Forbidden unless an admin or a holder of a role that grants `perm`."""
    if allows(perm, admin=admin, roles=roles):
        return
    needed = [r.value for r in Role if r in ROLES[perm]] + [ADMIN]
    hint = None
    if perm is Perm.DECIDE:
        hint = "The owner can make you an approver: `/session share <ref> @name approver`."
    raise Forbidden(perm.value, needed, hint=hint)


def require_decider(
    *,
    admin: bool,
    roles: set[Role],
    user_id: str,
    plan: Plan,
    settings: WorkspaceSettings,
) -> None:
    """Approvers, owners and admins decide; submitters may not when self-approval is off."""
    require(Perm.DECIDE, admin=admin, roles=roles)
    if settings.self_approval == "forbidden" and plan.submitted_by == user_id:
        raise Forbidden(
            Perm.DECIDE.value,
            ["another approver"],
            detail="this workspace forbids approving your own plan; ask another approver.",
        )


def possible_deciders(
    session: Session,
    members: list[Member],
    settings: WorkspaceSettings,
    config_admins: frozenset[str],
    *,
    submitted_by: str,
    high_risk: bool = False,
) -> set[str]:
    """Who is known to be able to approve a plan or a request (platform admins are not known
    here); the submitter only where the workspace lets them approve their own (high-risk) ask."""
    people = {session.owner_id, *settings.admins, *config_admins}
    people |= {m.user_id for m in members if m.role in ROLES[Perm.DECIDE]}
    policy = settings.high_risk_self_approval if high_risk else settings.self_approval
    if policy == "forbidden":
        people.discard(submitted_by)
    return people
