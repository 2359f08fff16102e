"""The §3 permission matrix, self-approval and cross-workspace isolation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from core.errors import Forbidden, NotFound
from core.models import Decision, ModAction, Role, Session
from core.store.sqlite.store import SqliteStore
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, actor, count

OWNER, EDITOR, APPROVER, VIEWER = actor("owner"), actor("ed"), actor("appr"), actor("viewer")
STRANGER, ADMIN = actor("stranger"), actor("root")
WHO = {
    "owner": OWNER,
    "editor": EDITOR,
    "approver": APPROVER,
    "viewer": VIEWER,
    "stranger": STRANGER,
    "admin": ADMIN,
}

Call = Callable[[Services, Session], Awaitable[object]]


def _work(method: str, **kw: object) -> Callable[[str], Call]:
    def bind(user: str) -> Call:
        concern, name = method.split(".")
        return lambda svc, s: getattr(getattr(svc, concern), name)(WHO[user], str(s.ref), **kw)

    return bind


# action -> (users allowed, how to call it)
MATRIX: dict[str, tuple[set[str], Callable[[str], Call]]] = {
    "show": (set(WHO), _work("sessions.show")),
    "pause": ({"owner", "editor", "admin"}, _work("sessions.pause")),
    "complete": ({"owner", "editor", "admin"}, _work("sessions.complete")),
    "fail": ({"owner", "editor", "admin"}, _work("sessions.fail", reason="x")),
    "cancel": ({"owner", "editor", "admin"}, _work("sessions.cancel")),
    "extend": ({"owner", "editor", "admin"}, _work("sessions.extend", duration=timedelta(hours=1))),
    "plan": ({"owner", "editor", "admin"}, _work("plans.submit", items=["a"])),
    "iterate": ({"owner", "editor", "admin"}, _work("progress.record_iteration")),
    "share": ({"owner", "admin"}, _work("members.share", user_id="newbie")),
    "transfer": ({"owner", "admin"}, _work("members.transfer", user_id="newbie")),
    "unshare": ({"owner", "admin"}, _work("members.unshare", user_id="viewer")),
    "modify": (
        {"owner", "editor", "admin"},
        _work("plans.modify", position=1, action=ModAction.COMMENT, value="hi"),
    ),
}


async def _session(services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, "guarded")
    for user, role in (("ed", Role.EDITOR), ("appr", Role.APPROVER), ("viewer", Role.VIEWER)):
        await services.members.share(OWNER, str(s.ref), user, role=role)
    await services.plans.submit(OWNER, str(s.ref), ["first"])
    await services.plans.decide(OWNER, Decision.APPROVE, ref=str(s.ref))
    found = await services.store.sessions.by_id(s.id)
    assert found is not None
    return found


@pytest.mark.parametrize("user", sorted(WHO))
@pytest.mark.parametrize("action", sorted(MATRIX))
async def test_permission_matrix(
    services: Services, store: SqliteStore, action: str, user: str
) -> None:
    session = await _session(services)
    allowed, bind = MATRIX[action]
    events = await count(store, "events")
    if user in allowed:
        await bind(user)(services, session)
        return
    with pytest.raises(Forbidden) as caught:
        await bind(user)(services, session)
    assert "role" in caught.value.message or "admin" in caught.value.message
    assert await store.sessions.by_id(session.id) == session
    assert await count(store, "events") == events


@pytest.mark.parametrize("user", sorted(WHO))
async def test_who_may_approve(services: Services, store: SqliteStore, user: str) -> None:
    session = await _session(services)
    await services.plans.submit(OWNER, str(session.ref), ["second"])
    decide = services.plans.decide(WHO[user], Decision.APPROVE, ref=str(session.ref))
    if user in {"owner", "approver", "admin"}:
        assert (await decide).settled
    else:
        with pytest.raises(Forbidden):
            await decide
        plan = await store.plans.current(session.id)
        assert plan is not None and plan.status.value == "pending" and not plan.approvals


@pytest.mark.parametrize("user", ["owner", "admin"])
async def test_archive_needs_owner_or_admin(services: Services, user: str) -> None:
    session = await _session(services)
    await services.sessions.complete(OWNER, str(session.ref))
    with pytest.raises(Forbidden):
        await services.sessions.archive(EDITOR, str(session.ref))
    archived = await services.sessions.archive(WHO[user], str(session.ref))
    assert archived.status.value == "archived"


async def test_self_approval_forbidden_by_workspace_setting(
    services: Services, store: SqliteStore
) -> None:
    await services.workspace.set_setting(ADMIN, "self_approval", "forbidden")
    session = await services.sessions.start(OWNER, CHAT, "no self approval")
    await services.members.share(OWNER, str(session.ref), "appr", role=Role.APPROVER)
    await services.plans.submit(OWNER, str(session.ref), ["step"])
    with pytest.raises(Forbidden) as caught:
        await services.plans.decide(OWNER, Decision.APPROVE, ref=str(session.ref))
    assert "own plan" in caught.value.message
    result = await services.plans.decide(APPROVER, Decision.APPROVE, ref=str(session.ref))
    assert result.settled and result.plan.decided_by == "appr"


async def test_workspace_admins_from_settings_act_as_every_role(
    services: Services, store: SqliteStore
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "admin by setting")
    with pytest.raises(Forbidden):
        await services.sessions.pause(actor("lead"), str(session.ref))
    with pytest.raises(Forbidden):
        await services.workspace.set_setting(actor("lead"), "admins", "lead")
    await services.workspace.set_setting(ADMIN, "admins", "lead, other")
    assert (await services.sessions.pause(actor("lead"), str(session.ref))).status.value == "paused"


CROSS: dict[str, Callable[[Services, str], Awaitable[object]]] = {
    "show": lambda svc, ref: svc.sessions.show(actor("root", OTHER_WS, admin=True), ref),
    "pause": lambda svc, ref: svc.sessions.pause(actor("root", OTHER_WS, admin=True), ref),
    "complete": lambda svc, ref: svc.sessions.complete(actor("owner", OTHER_WS), ref),
    "plan": lambda svc, ref: svc.plans.submit(actor("root", OTHER_WS, admin=True), ref, ["x"]),
    "approve": lambda svc, ref: svc.plans.decide(
        actor("root", OTHER_WS, admin=True), Decision.APPROVE, ref=ref
    ),
    "share": lambda svc, ref: svc.members.share(actor("root", OTHER_WS, admin=True), ref, "x"),
    "iterate": lambda svc, ref: svc.progress.record_iteration(actor("owner", OTHER_WS), ref),
}


@pytest.mark.parametrize("action", sorted(CROSS))
@pytest.mark.parametrize("by", ["ref", "id"])
async def test_other_workspace_cannot_see_or_touch(
    services: Services, store: SqliteStore, action: str, by: str
) -> None:
    session = await _session(services)
    await services.plans.submit(OWNER, str(session.ref), ["pending one"])
    before = await store.sessions.by_id(session.id)
    events = await count(store, "events")
    ref = str(session.ref) if by == "ref" else session.id
    with pytest.raises(NotFound):
        await CROSS[action](services, ref)
    assert await store.sessions.by_id(session.id) == before
    assert await count(store, "events") == events


async def test_plan_buttons_from_another_workspace_are_not_found(services: Services) -> None:
    session = await services.sessions.start(OWNER, CHAT, "buttons")
    plan = (await services.plans.submit(OWNER, str(session.ref), ["step"])).plan
    with pytest.raises(NotFound):
        await services.plans.decide(
            actor("root", OTHER_WS, admin=True), Decision.APPROVE, plan_id=plan.id
        )


async def test_list_and_stats_stay_in_their_workspace(services: Services) -> None:
    await services.sessions.start(OWNER, CHAT, "mine")
    other = actor("owner", OTHER_WS)
    listing = await services.sessions.list_sessions(other, filter="all")
    assert listing.total == 0 and listing.sessions == []
    assert (await services.workspace.stats(other)).by_status == {}
