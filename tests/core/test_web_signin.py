"""The web inbox's core: one-time links, browser sessions and their timeouts, what the inbox
holds for whom, and the sessions list's cursor — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import Forbidden, UsageError
from core.models import ChatRef, Decision, Role, Session, Status
from core.records.requests import RequestKind
from core.services.asks import Ask
from core.services.web_pages import InboxItem, WebReads
from core.services.web_signin import SignIn, WebTimeouts, digest
from core.store.store import Store
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, WS, actor

OWNER, AGENT, ANA, VIEWER = actor("owner"), actor("agent"), actor("ana"), actor("vic")
TIMEOUTS = WebTimeouts(
    link=timedelta(minutes=15), idle=timedelta(hours=1), absolute=timedelta(hours=12)
)


@pytest.fixture
def signin(store: Store, clock: ManualClock) -> SignIn:
    return SignIn(store, clock, TIMEOUTS)


@pytest.fixture
def reads(services: Services) -> WebReads:
    return WebReads(services.store, services.access, services.sessions)


@pytest.fixture
async def session(services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, "release")
    for user, role in (("agent", Role.EDITOR), ("ana", Role.APPROVER), ("vic", Role.VIEWER)):
        await services.members.share(OWNER, str(s.ref), user, role=role)
    return s


async def test_a_link_signs_in_once_and_only_its_digest_is_stored(
    signin: SignIn, store: Store
) -> None:
    token = await signin.link(WS, "@Ana")
    assert await store.web.take_link(token, now=signin.clock.now()) is None, "not by the token"
    session, session_id = await signin.take(token)
    assert (session.workspace, session.user_id, session.admin) == (WS, "ana", False)
    assert session.id_hash == digest(session_id) != session_id
    with pytest.raises(Forbidden, match="wrong, used or expired"):
        await signin.take(token)
    assert (await signin.current(session_id)) == session


async def test_two_sign_ins_racing_with_one_link_make_one_session(signin: SignIn) -> None:
    token = await signin.link(WS, "ana")
    results = await asyncio.gather(*(signin.take(token) for _ in range(8)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Forbidden) for r in results if isinstance(r, BaseException))


async def test_an_expired_or_wrong_link_is_refused(signin: SignIn, clock: ManualClock) -> None:
    token = await signin.link(WS, "ana")
    clock.advance(TIMEOUTS.link.total_seconds())
    with pytest.raises(Forbidden):
        await signin.take(token)
    with pytest.raises(Forbidden):
        await signin.take("x" * 43)
    with pytest.raises(UsageError, match="workspace"):
        await signin.link("nowhere", "ana")
    with pytest.raises(UsageError, match="not a slack user id"):
        await signin.link("slack:T1", "ana; drop")


async def test_a_session_ends_when_idle_at_its_deadline_or_at_logout(
    signin: SignIn, clock: ManualClock
) -> None:
    _, idle = await signin.take(await signin.link(WS, "ana"))
    clock.advance(TIMEOUTS.idle.total_seconds() - 1)
    assert await signin.current(idle) is not None, "a request restarts the idle clock"
    clock.advance(TIMEOUTS.idle.total_seconds() - 1)
    assert await signin.current(idle) is not None
    clock.advance(TIMEOUTS.idle.total_seconds())
    assert await signin.current(idle) is None

    _, busy = await signin.take(await signin.link(WS, "ana"))
    for _ in range(12):  # used every 59 minutes: never idle, but 12 hours is the end
        clock.advance(59 * 60)
        found = await signin.current(busy)
    assert found is not None
    clock.advance(12 * 60)
    assert await signin.current(busy) is None

    _, out = await signin.take(await signin.link(WS, "ana"))
    signed_in = await signin.current(out)
    assert signed_in is not None
    await signin.end(signed_in)
    assert await signin.current(out) is None


async def test_the_inbox_holds_what_this_person_may_decide_oldest_first(
    services: Services, session: Session, reads: WebReads, clock: ManualClock
) -> None:
    plan = await services.plans.submit(OWNER, str(session.ref), ["Back up", "Deploy"])
    clock.advance(60)
    action = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.ACTION, action="deploy", args={"v": "1"})
    )
    clock.advance(60)
    question = await services.requests.create(
        AGENT, str(session.ref), Ask(RequestKind.QUESTION, question="Which?", choices=("a", "b"))
    )
    clock.advance(60)
    named = await services.requests.create(
        AGENT,
        str(session.ref),
        Ask(RequestKind.ACTION, action="drop", args={}, approvers=("owner",)),
    )
    other = await services.sessions.start(
        actor("zed", OTHER_WS), ChatRef("console", OTHER_WS, "general"), "elsewhere"
    )
    await services.plans.submit(actor("zed", OTHER_WS), str(other.ref), ["Hidden"])

    def kinds(items: list[InboxItem]) -> list[str]:
        return [i.plan.id if i.plan else i.request.id for i in items if i.plan or i.request]

    assert kinds(await reads.inbox(ANA)) == [plan.plan.id, action.id]
    assert kinds(await reads.inbox(AGENT)) == [question.id], "an editor answers questions"
    assert kinds(await reads.inbox(VIEWER)) == []
    assert kinds(await reads.inbox(OWNER)) == [plan.plan.id, action.id, question.id, named.id]
    assert kinds(await reads.inbox(actor("root"))) == kinds(await reads.inbox(OWNER)), "admin"
    await services.requests.decide(ANA, action.id, Decision.REJECT)
    assert kinds(await reads.inbox(ANA)) == [plan.plan.id]


async def test_the_sessions_list_pages_by_cursor_with_filters(
    services: Services, reads: WebReads, clock: ManualClock
) -> None:
    for i in range(7):
        chat = CHAT if i % 2 else ChatRef("console", WS, "ops")
        await services.sessions.start(OWNER, chat, f"task {i}", mode="deploy" if i < 3 else None)
        clock.advance(10)
    seen: list[int] = []
    page = await reads.listing(OWNER, limit=3)
    seen += [s.ref for s in page.sessions]
    while page.after is not None:
        page = await reads.listing(OWNER, limit=3, after=page.after)
        seen += [s.ref for s in page.sessions]
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    in_ops = await reads.listing(OWNER, channel="ops")
    assert [s.ref for s in in_ops.sessions] == [7, 5, 3, 1]
    deploys = await reads.listing(OWNER, mode="deploy", status="open")
    assert [s.ref for s in deploys.sessions] == [3, 2, 1]
    assert (await reads.listing(OWNER, owner="ana")).sessions == []
    assert (await reads.listing(actor("x", OTHER_WS))).sessions == []
    assert all(s.status is Status.ACTIVE for s in deploys.sessions)
    with pytest.raises(UsageError, match="status filter"):
        await reads.listing(OWNER, status="bogus")


async def test_approval_latencies_fall_in_their_buckets(
    services: Services, clock: ManualClock
) -> None:
    """Counted by the database (Stats' histogram), each bound belonging to the bucket above."""
    empty = await services.workspace.stats(OWNER, days=120)
    assert [n for _, n in empty.approval_histogram] == [0, 0, 0, 0, 0]
    assert empty.median_approval_latency is None
    minutes = [0.5, 1, 9.9, 10, 59, 60, 23 * 60, 24 * 60, 90 * 24 * 60]
    for m in minutes:
        session = await services.sessions.start(OWNER, CHAT, f"{m} min")
        await services.plans.submit(OWNER, str(session.ref), ["x"])
        clock.advance(timedelta(minutes=m))
        await services.plans.decide(OWNER, Decision.APPROVE, ref=str(session.ref))
    stats = await services.workspace.stats(OWNER, days=120)
    assert stats.approval_histogram == [
        ("under 1 min", 1),
        ("1–10 min", 2),
        ("10–60 min", 2),
        ("1–24 h", 2),
        ("over 1 day", 2),
    ]
    assert stats.median_approval_latency == timedelta(minutes=59)
