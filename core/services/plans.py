"""Plans and their decisions (SPEC §4): submit, approve or reject (N of M), modify, expire."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import cards, notices, plans
from core.access import Access
from core.clock import Clock
from core.commands import COMMANDS
from core.errors import Conflict, NotFound, UsageError
from core.models import (
    Actor,
    Approval,
    Decision,
    EventType,
    ItemStatus,
    ModAction,
    Plan,
    PlanItem,
    PlanModification,
    PlanStatus,
    Session,
    new_id,
)
from core.permissions import Perm
from core.services.sessions import Lifecycle, clip, system_actor
from core.settings import Settings
from core.states import Action
from core.store import ops
from core.store.store import Store
from core.units import Units, retried
from core.users import check_user_id


@dataclass(slots=True)
class DecisionResult:
    session: Session
    plan: Plan
    settled: bool
    approvals: int
    repeated: bool = False


@dataclass(slots=True)
class PlanPosted:
    """A plan just submitted, its session as the submission left it, and how many people are
    known to be able to decide it (fewer than it needs: it cannot pass as things stand)."""

    session: Session
    plan: Plan
    deciders: int


@dataclass(slots=True)
class ItemModified:
    session: Session
    modification: PlanModification


@dataclass(slots=True)
class Plans:
    store: Store
    clock: Clock
    settings: Settings
    access: Access
    units: Units
    sessions: Lifecycle

    async def submit(
        self,
        actor: Actor,
        ref: str | None,
        items: list[str],
        *,
        need: int = 1,
        expires: timedelta | None = None,
        channel_id: str | None = None,
    ) -> PlanPosted:
        """Post a new plan version; an older one is superseded and its message says so."""
        session = await self.sessions.find_for(actor, ref, Perm.WORK, channel_id=channel_id)
        status = await self.access.next_status(actor, session, Action.SUBMIT_PLAN)
        now = self.clock.now()
        settings = await self.settings.get(session.workspace)
        current = await self.store.plans.current(session.id)
        plan = plans.build_plan(
            session_id=session.id,
            version=current.version + 1 if current else 1,
            titles=items,
            submitted_by=actor.user_id,
            now=now,
            required=need,
            expires_after=expires or settings.approval_expires_after,
        )
        fields = await self.units.status_fields(session, status, now)
        updated = dataclasses.replace(session, **fields, version=session.version + 1)
        unit: list[ops.Op] = [
            ops.UpdateSession(session.id, session.version, fields, session.status.value),
            *await self.units.plan_posted(actor, updated, plan, now),
        ]
        if current and current.status is not PlanStatus.SUPERSEDED:
            old = dataclasses.replace(
                current,
                status=PlanStatus.SUPERSEDED,
                superseded_by=actor.user_id,
                superseded_at=now,
            )
            view = cards.plan_message(updated, old)
            unit.append(
                notices.plan_update(updated, old, view, key=f"superseded:{old.id}", now=now)
            )
        await self.sessions.applied(session, unit)
        return PlanPosted(updated, plan, len(await self.access.deciders(updated, plan)))

    async def _target(
        self, actor: Actor, plan_id: str | None, ref: str | None, channel_id: str | None
    ) -> tuple[Session, Plan]:
        if plan_id is not None:
            return await self.by_id(plan_id, workspace=actor.workspace)
        session = await self.sessions.find(actor, ref, channel_id=channel_id)
        plan = await self.store.plans.current(session.id)
        if plan is None:
            raise NotFound("plan", f"for session #{session.ref}")
        return session, plan

    async def decide(
        self,
        actor: Actor,
        decision: Decision,
        *,
        plan_id: str | None = None,
        ref: str | None = None,
        channel_id: str | None = None,
        reason: str | None = None,
    ) -> DecisionResult:
        """Approve or reject the pending plan; exactly one concurrent decision wins."""

        async def attempt() -> DecisionResult:
            session, plan = await self._target(actor, plan_id, ref, channel_id)
            await self.access.require_decision(actor, session, plan, decision)
            outcome = plans.evaluate(plan, actor.user_id, decision)
            if outcome.repeated:
                return DecisionResult(session, plan, False, outcome.approvals, repeated=True)
            return await self._record(actor, session, plan, decision, outcome, reason)

        return await retried(attempt)

    async def _record(
        self,
        actor: Actor,
        session: Session,
        plan: Plan,
        decision: Decision,
        outcome: plans.Outcome,
        reason: str | None,
    ) -> DecisionResult:
        now = self.clock.now()
        reason = clip(reason) if reason else None
        approval = Approval(plan.id, actor.user_id, decision, plan.content_hash, now, reason)
        decided = dataclasses.replace(plan, approvals=[*plan.approvals, approval])
        unit: list[ops.Op] = [ops.PutApproval(approval)]
        if not outcome.settles:
            unit += [
                ops.UpdatePlan(plan.id, plan.row_version, {}, PlanStatus.PENDING.value),
                self.units.event(session, EventType.PLAN_APPROVAL, actor, {"plan_id": plan.id}),
                notices.plan_update(
                    session,
                    decided,
                    cards.plan_message(session, decided),
                    key=f"approvals:{plan.id}:{outcome.approvals}",
                    now=now,
                ),
            ]
            await self.store.apply(unit)
            return DecisionResult(session, decided, False, outcome.approvals)
        changes: dict[str, Any] = {
            "status": outcome.status,
            "decided_at": now,
            "decided_by": actor.user_id,
            "decision_reason": reason,
        }
        decided = dataclasses.replace(decided, **changes)
        approve = decision is Decision.APPROVE
        unit += [
            ops.UpdatePlan(plan.id, plan.row_version, changes, PlanStatus.PENDING.value),
            notices.plan_update(
                session,
                decided,
                cards.plan_message(session, decided),
                key=f"decided:{plan.id}",
                now=now,
            ),
        ]
        updated = await self.sessions.transition(
            actor,
            session,
            Action.APPROVE if approve else Action.REJECT,
            EventType.PLAN_APPROVED if approve else EventType.PLAN_REJECTED,
            data={"plan_id": plan.id, "plan": plan.version, "reason": reason},
            extra=unit,
        )
        return DecisionResult(updated, decided, True, outcome.approvals)

    async def modify(
        self,
        actor: Actor,
        ref: str | None,
        position: int,
        action: ModAction,
        value: str,
        *,
        channel_id: str | None = None,
    ) -> ItemModified:
        """Change a plan item's progress (status, assignee, comment): no new approval needed."""
        if action is ModAction.REASSIGN:
            # `mine` is the actor itself, whatever its shape (an API principal acts in chat too)
            value = actor.user_id if value == "mine" else check_user_id(actor.workspace, value)

        async def attempt() -> ItemModified:
            session = await self.sessions.find_for(actor, ref, Perm.WORK, channel_id=channel_id)
            await self.access.next_status(actor, session, Action.MODIFY)
            plan = await self.store.plans.current(session.id)
            item = next((i for i in plan.items if i.position == position), None) if plan else None
            if plan is None or item is None:
                raise NotFound("plan item", f"{position} in session #{session.ref}")
            now = self.clock.now()
            changes = _item_change(item, action, value, actor.user_id, now)
            mod_id = new_id()
            data = {"plan_id": plan.id, "item": position, "action": action.value, "value": value}
            hooks = await self.units.hooks(
                session,
                EventType.MODIFICATION.value,
                data,
                now,
                key=f"modification:{mod_id}",
                modification_id=mod_id,
            )
            mod = PlanModification(
                id=mod_id,
                session_id=session.id,
                plan_id=plan.id,
                position=position,
                user_id=actor.user_id,
                action=action,
                value=value,
                created_at=now,
                processed=not hooks,  # else when its webhook deliveries succeed
                processed_at=None if hooks else now,
            )
            changed = dataclasses.replace(item, **changes)
            shown = dataclasses.replace(
                plan, items=[changed if i is item else i for i in plan.items]
            )
            view = cards.plan_message(session, shown)
            await self.store.apply(
                [
                    ops.UpdatePlan(plan.id, plan.row_version, {}),
                    ops.UpdatePlanItem(plan.id, position, changes),
                    ops.AddModification(mod),
                    self.units.event(session, EventType.MODIFICATION, actor, data),
                    await self.units.touch(session, now),
                    notices.plan_update(session, shown, view, key=f"modified:{mod_id}", now=now),
                    *hooks,
                ]
            )
            return ItemModified(session, mod)

        return await retried(attempt)

    async def expire(self, plan_id: str) -> Plan:
        """The approval request ran out: the plan is `expired` and the session paused."""
        session, plan = await self.by_id(plan_id)
        if plan.status is not PlanStatus.PENDING:
            raise Conflict(f"Plan v{plan.version} is {plan.status.value}, not pending.")
        now = self.clock.now()
        changes: dict[str, Any] = {"status": PlanStatus.EXPIRED, "decided_at": now}
        expired = dataclasses.replace(plan, **changes)
        view = cards.plan_message(session, expired)
        await self.sessions.transition(
            system_actor(session.workspace),
            session,
            Action.EXPIRE,
            EventType.PLAN_EXPIRED,
            data={"plan_id": plan.id, "plan": plan.version},
            extra=[
                ops.UpdatePlan(plan.id, plan.row_version, changes, PlanStatus.PENDING.value),
                notices.plan_update(session, expired, view, key=f"expired:{plan.id}", now=now),
            ],
        )
        return expired

    async def rerequest(self, actor: Actor, plan_id: str) -> PlanPosted:
        """Ask again for approval of an expired plan: the same items as a new version."""
        session, plan = await self.by_id(plan_id, workspace=actor.workspace)
        if plan.status is not PlanStatus.EXPIRED:
            raise Conflict(
                f"Plan v{plan.version} is {plan.status.value}; "
                "only expired plans can be re-requested."
            )
        await self.access.next_status(actor, session, Action.REREQUEST)
        lasted = plan.expires_at - plan.submitted_at if plan.expires_at else None
        return await self.submit(
            actor,
            session.id,
            [i.title for i in plan.items],
            need=plan.required_approvals,
            expires=lasted,
        )

    async def by_id(self, plan_id: str, *, workspace: str | None = None) -> tuple[Session, Plan]:
        """A plan and its session (in `workspace` when given), as a decision must see them:
        read in one query, so a decision (which commits plan and session at once) shows in
        both or in neither."""
        found = await self.store.plans.with_session(plan_id)
        if found is None or workspace not in (None, found[0].workspace):
            raise NotFound("plan", plan_id)
        return found


def _item_change(
    item: PlanItem, action: ModAction, value: str, user_id: str, now: datetime
) -> dict[str, Any]:
    if action is ModAction.STATUS_CHANGE:
        try:
            return {"status": ItemStatus(value)}
        except ValueError:
            raise UsageError(
                f"`{value[:40]}` is not an item status.", usage=COMMANDS["modify"].usage
            ) from None
    if action is ModAction.REASSIGN:
        return {"assignee": value}
    if not value.strip():
        raise UsageError("The comment is empty.")
    comment = {"by": user_id, "at": now.isoformat(), "text": clip(value)}
    return {"comments": [*item.comments, comment]}
