"""Ownership moves and membership: transfer, unshare, share as owner, admins as written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Forbidden, NotFound, UsageError
from core.models import Actor, ChatRef, Decision, EventType, ModAction, Role, Session, Source
from core.runner import CommandRunner
from core.store import ops
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, actor, count

OWNER, BOB, CAROL = actor("owner"), actor("bob"), actor("carol")


async def _events(store: Store, session_id: str, kind: EventType) -> list[dict[str, object]]:
    events = await store.events.newest(session_id, limit=100)
    return [e.data for e in events if e.type is kind]


async def _with_editor(services: Services, store: Store) -> tuple[Session, int]:
    """Session #1 of `owner` with bob as an editor, and the count of events so far."""
    session = await services.sessions.start(OWNER, CHAT, "deploy")
    await services.members.share(OWNER, str(session.ref), "bob", role=Role.EDITOR)
    return session, await count(store, "events")


async def test_transfer_hands_over_and_keeps_the_old_owner_as_editor(
    services: Services, store: Store
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "deploy")
    moved = (await services.members.transfer(OWNER, str(session.ref), "bob")).session
    assert moved.owner_id == "bob"
    roles = {m.user_id: m.role for m in await store.sessions.members(session.id)}
    assert roles == {"bob": Role.OWNER, "owner": Role.EDITOR}
    assert await _events(store, session.id, EventType.TRANSFERRED) == [
        {"user_id": "bob", "previous_owner": "owner"}
    ]
    await services.sessions.pause(OWNER, str(session.ref))  # an editor still works on it
    with pytest.raises(Forbidden):
        await services.members.share(OWNER, str(session.ref), "carol")  # but no longer manages it
    await services.members.share(BOB, str(session.ref), "carol")
    rows = await store.engine.fetchall("SELECT payload FROM outbox", ())  # type: ignore[attr-defined]
    assert sum("handed over to <@bob>" in str(row[0]) for row in rows) == 1


async def test_transfer_is_refused_for_non_owners_and_malformed_users(
    services: Services, store: Store
) -> None:
    session, events = await _with_editor(services, store)
    with pytest.raises(Forbidden):
        await services.members.transfer(BOB, str(session.ref), "bob")
    for bad in ("Bob Smith", "<!channel>", "@bob"):
        with pytest.raises(UsageError):
            await services.members.transfer(OWNER, str(session.ref), bad)
    with pytest.raises(UsageError):
        await services.members.transfer(OWNER, str(session.ref), "owner")
    assert (await store.sessions.by_id(session.id)).owner_id == "owner"  # type: ignore[union-attr]
    assert await count(store, "events") == events


async def test_an_admin_may_transfer_any_session(services: Services) -> None:
    session = await services.sessions.start(OWNER, CHAT, "deploy")
    moved = (await services.members.transfer(actor("root"), str(session.ref), "carol")).session
    assert moved.owner_id == "carol"


async def test_unshare_removes_a_member_with_an_audit_event(
    services: Services, store: Store
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "deploy")
    await services.members.share(OWNER, str(session.ref), "bob", role=Role.APPROVER)
    await services.members.unshare(OWNER, str(session.ref), "bob")
    assert [m.user_id for m in await store.sessions.members(session.id)] == ["owner"]
    assert await _events(store, session.id, EventType.UNSHARED) == [
        {"user_id": "bob", "role": "approver"}
    ]
    await services.plans.submit(OWNER, str(session.ref), ["a"])
    with pytest.raises(Forbidden):
        await services.plans.decide(BOB, Decision.APPROVE, ref=str(session.ref))


async def test_unshare_is_refused_for_non_owners_strangers_and_the_owner(
    services: Services, store: Store
) -> None:
    session, events = await _with_editor(services, store)
    with pytest.raises(Forbidden):
        await services.members.unshare(BOB, str(session.ref), "bob")
    with pytest.raises(NotFound):
        await services.members.unshare(OWNER, str(session.ref), "nobody")
    with pytest.raises(UsageError):
        await services.members.unshare(OWNER, str(session.ref), "owner")
    with pytest.raises(UsageError):
        await services.members.unshare(OWNER, str(session.ref), "<@U0X> <!channel>")
    assert len(await store.sessions.members(session.id)) == 2
    assert await count(store, "events") == events


async def test_chat_commands_transfer_unshare_and_share_owner(
    runner: CommandRunner, services: Services
) -> None:
    await runner.run(OWNER, CHAT, "start deploy")
    refused = await runner.run(OWNER, CHAT, "share 1 @bob owner")
    assert refused is not None and refused.view.kind == "error"
    assert "/session transfer" in refused.view.title and "Unexpected" not in refused.view.title
    await runner.run(OWNER, CHAT, "share 1 @carol viewer")
    removed = await runner.run(OWNER, CHAT, "unshare 1 @carol")
    assert removed is not None and not removed.ephemeral
    assert "no longer shared with <@carol>" in removed.view.title
    moved = await runner.run(OWNER, CHAT, "transfer 1 @bob")
    assert moved is not None and not moved.ephemeral
    assert "handed over to <@bob>; <@owner> stays on as an editor" in moved.view.title
    not_owner = await runner.run(OWNER, CHAT, "transfer 1 @carol")
    assert not_owner is not None and "You can't" in not_owner.view.title
    help_reply = await runner.run(OWNER, CHAT, "help transfer")
    assert help_reply is not None and "old owner stays on as an editor" in (
        help_reply.view.plain_text()
    )


async def test_settings_admins_takes_people_as_they_are_written(
    runner: CommandRunner, services: Services
) -> None:
    root = actor("root")
    changed = await runner.run(root, CHAT, "settings admins @alice, bob")
    assert changed is not None and changed.view.kind != "error", changed.view.title
    assert (await services.settings.get(CHAT.workspace)).admins == ("alice", "bob")
    bad = await runner.run(root, CHAT, "settings admins @Not-A-Console-Name!")
    assert bad is not None and bad.view.kind == "error"
    assert (await services.settings.get(CHAT.workspace)).admins == ("alice", "bob")
    await runner.run(OWNER, CHAT, "start deploy")
    await runner.run(OWNER, CHAT, "plan one")
    approved = await runner.run(actor("alice"), CHAT, "approve 1")
    assert approved is not None and "approved by <@alice>" in approved.view.title


async def test_slack_mentions_in_settings_are_stored_as_ids(
    runner: CommandRunner, services: Services
) -> None:
    chat = ChatRef("slack", "slack:T9", "C1")
    admin = Actor("slack:T9", "U0ROOT", Source.SLACK, platform_admin=True)
    await runner.run(admin, chat, "settings admins <@U0BOB|bob> <@U0CAROL>")
    assert (await services.settings.get("slack:T9")).admins == ("U0BOB", "U0CAROL")
    refused = await runner.run(admin, chat, "settings admins @bob")
    assert refused is not None and "is not a slack user id" in refused.view.title


async def test_plan_needing_more_approvers_than_exist_warns(runner: CommandRunner) -> None:
    await runner.run(OWNER, CHAT, "start deploy")
    await runner.run(OWNER, CHAT, "share 1 @bob approver")
    warned = await runner.run(OWNER, CHAT, "plan need:5 one; two")
    assert warned is not None and warned.view.kind != "error"
    assert "Warning: only 3 known people can approve it" in warned.view.title
    fine = await runner.run(OWNER, CHAT, "plan need:3 one; two")  # owner, bob, root
    assert fine is not None and "Warning" not in fine.view.title


async def test_rerequest_keeps_the_original_expiry(
    services: Services, store: Store, clock: ManualClock
) -> None:
    session = await services.sessions.start(OWNER, CHAT, "deploy")
    plan = (
        await services.plans.submit(OWNER, str(session.ref), ["a"], expires=timedelta(minutes=45))
    ).plan
    clock.advance(46 * 60)
    await services.plans.expire(plan.id)
    again = (await services.plans.rerequest(OWNER, plan.id)).plan
    assert again.expires_at is not None
    assert again.expires_at - again.submitted_at == timedelta(minutes=45)


async def test_admins_stored_as_typed_before_ids_were_checked_still_match(
    services: Services, store: Store
) -> None:
    await store.apply([ops.PutSettings(CHAT.workspace, {"admins": ["@alice", "<@bob|Bob>"]})])
    assert (await services.settings.get(CHAT.workspace)).admins == ("alice", "bob")


async def test_an_api_principal_takes_an_item_with_mine_in_a_chat_workspace(
    services: Services, store: Store
) -> None:
    workspace = "slack:T0ACME"
    ci = Actor(workspace, "ci-bot", Source.API)  # a token of the Slack workspace, as `ci-bot`
    admin = Actor(workspace, "U0ADMIN1", Source.SLACK, platform_admin=True)
    session = await services.sessions.start(ci, ChatRef("slack", workspace, "C0DEPLOY"), "deploy")
    await services.plans.submit(ci, str(session.ref), ["one"], need=1)
    await services.plans.decide(admin, Decision.APPROVE, ref=str(session.ref))
    await services.plans.modify(ci, str(session.ref), 1, ModAction.REASSIGN, "mine")
    plan = await store.plans.current(session.id)
    assert plan is not None and plan.items[0].assignee == "ci-bot"
    with pytest.raises(UsageError, match="not a slack user id"):  # others are still checked
        await services.plans.modify(ci, str(session.ref), 1, ModAction.REASSIGN, "ci-bot")
    plan = await store.plans.current(session.id)
    assert plan is not None and plan.items[0].assignee == "ci-bot"
