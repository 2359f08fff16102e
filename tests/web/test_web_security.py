"""The web inbox over real HTTP: sign-in, cookies, CSRF, workspace scoping, roles, escaping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import load_config
from bot.http import HttpServer
from bot.web import mount_configured, mount_web
from core.clock import ManualClock
from core.errors import ConfigError
from core.models import ChatRef, Decision, Role, Session
from core.records.requests import RequestKind, RequestStatus
from core.services.asks import Ask
from core.services.web_signin import SignIn
from core.wiring import Services
from tests.conftest import CHAT, OTHER_WS, WS, actor
from tests.web.conftest import Browser, signed_in

OWNER, AGENT = actor("owner"), actor("agent")
XSS = "<script>alert(1)</script>"


@pytest.fixture
async def session(services: Services) -> Session:
    s = await services.sessions.start(OWNER, CHAT, f"Deploy {XSS}", mode=XSS)
    for user, role in (("agent", Role.EDITOR), ("ana", Role.APPROVER), ("vic", Role.VIEWER)):
        await services.members.share(OWNER, str(s.ref), user, role=role)
    return s


async def ask(services: Services, session: Session) -> str:
    request = await services.requests.create(
        AGENT,
        str(session.ref),
        Ask(RequestKind.ACTION, action="deploy", args={"note": XSS}, summary=f"ship {XSS}"),
    )
    return request.id


async def status(services: Services, request_id: str) -> RequestStatus:
    return (await services.requests.get(OWNER, request_id))[1].status


async def test_pages_need_a_session_and_the_cookie_has_the_flags(
    browser: Browser, signin: SignIn
) -> None:
    refused = await browser.get("/web/inbox")
    assert refused.status == 401 and "sessionbot web login" in refused.text
    answer = await browser.sign_in(await signin.link(WS, "ana"))
    assert answer.status == 303
    (cookie,) = [c for c in answer.cookies if c.startswith("sessionbot=")]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags and "secure" not in flags
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    page = await browser.get("/web/inbox")
    assert page.status == 200 and "Nothing waits for you" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


async def test_off_a_loopback_address_the_cookie_is_secure_and_host_bound(
    services: Services, signin: SignIn
) -> None:
    http = HttpServer("127.0.0.1", 0)
    mount_web(http.app, services, on=True, base_url="https://bot.example.com")
    await http.start()
    b = Browser(f"http://127.0.0.1:{http.port}")
    try:
        shown = await b.get("/web/login/whatever-token-of-some-length")
        (pre,) = shown.cookies
        assert pre.startswith("__Host-sessionbot-login=") and "Secure" in pre
        assert "HttpOnly" in pre and "SameSite=Lax" in pre
    finally:
        await b.close()
        await http.stop()


async def test_the_web_is_off_unless_configured(services: Services) -> None:
    assert not load_config({}).web.on
    assert load_config({"SESSIONBOT_WEB": "on"}).web.on
    public = load_config({"SESSIONBOT_PUBLIC_URL": "https://bot.example.com/"})
    assert public.web.on and public.base_url == "https://bot.example.com"
    for bad in ({"SESSIONBOT_PUBLIC_URL": "ftp://x"}, {"SESSIONBOT_WEB_SECRET": "short"}):
        with pytest.raises(ConfigError):
            load_config(bad)
    http = HttpServer("127.0.0.1", 0)
    mount_configured(http.app, services, load_config({}))
    await http.start()
    b = Browser(f"http://127.0.0.1:{http.port}")
    try:
        assert (await b.get("/web/inbox")).status == 404
    finally:
        await b.close()
        await http.stop()


async def test_a_used_an_expired_or_a_foreign_link_is_refused(
    browser: Browser, signin: SignIn, clock: ManualClock, server: HttpServer
) -> None:
    token = await signin.link(WS, "ana")
    assert (await browser.sign_in(token)).status == 303
    other = Browser(browser.base)
    try:
        reused = await other.sign_in(token)
        assert reused.status == 403 and "wrong, used or expired" in reused.text
        late = await signin.link(WS, "ana")
        clock.advance(timedelta(minutes=15).total_seconds())
        assert (await other.sign_in(late)).status == 403
        assert (await other.get("/web/inbox")).status == 401
        fresh = await signin.link(WS, "ana")  # posted without the login page's cookie
        forged = await other.post("/web/login", {"token": fresh, "nonce": "made-up"})
        assert forged.status == 403
        assert (await other.sign_in(fresh)).status == 303, "the link was not used up"
    finally:
        await other.close()


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    ana: Browser, services: Services, session: Session
) -> None:
    request_id = await ask(services, session)
    path = f"/web/requests/{request_id}/decision"
    for form in ({"decision": "approve"}, {"decision": "approve", "csrf": "wrong"}):
        refused = await ana.post(path, form)
        assert refused.status == 403
    assert await status(services, request_id) is RequestStatus.PENDING
    logout = await ana.post("/web/logout", {})
    assert logout.status == 403, "logout is a POST like any other"


async def test_a_tampered_cookie_or_a_logged_out_one_is_not_a_session(
    ana: Browser, server: HttpServer
) -> None:
    page = await ana.get("/web/inbox")
    cookie = next(c for c in ana.http.cookie_jar if c.key == "sessionbot")
    value = cookie.value
    stranger = Browser(ana.base)
    try:
        stranger.http.cookie_jar.update_cookies({"sessionbot": value[:-2] + "xx"})
        assert (await stranger.get("/web/inbox")).status == 401
        out = await ana.post("/web/logout", {"csrf": page.csrf})
        assert out.status == 303 and out.headers["Location"] == "/web/signed-out"
        stranger.http.cookie_jar.update_cookies({"sessionbot": value})
        assert (await stranger.get("/web/inbox")).status == 401, "ended at logout"
    finally:
        await stranger.close()


async def test_another_workspaces_session_is_not_found(
    ana: Browser, services: Services, session: Session
) -> None:
    elsewhere = await services.sessions.start(
        actor("zed", OTHER_WS), ChatRef("console", OTHER_WS, "general"), "secret"
    )
    assert (await ana.get(f"/web/sessions/{session.id}")).status == 200
    hidden = await ana.get(f"/web/sessions/{elsewhere.id}")
    assert hidden.status == 404 and "secret" not in hidden.text
    assert (await ana.get(f"/web/live/sessions/{elsewhere.id}")).status == 404
    assert (await ana.get(f"/web/sessions/{elsewhere.id}/export.md")).status == 404
    own = await ana.get(f"/web/sessions/{session.id}/export.md")
    assert own.status == 200 and "Deploy" in own.text
    assert own.headers["Content-Disposition"] == 'attachment; filename="session-1.md"'
    assert (await ana.get(f"/web/sessions/{session.id}/export.exe")).status == 404
    listing = await ana.get("/web/sessions?status=all")
    assert elsewhere.id not in listing.text and session.id in listing.text


async def test_a_viewer_sees_nothing_to_decide_and_cannot_decide(
    server: HttpServer, signin: SignIn, services: Services, session: Session
) -> None:
    request_id = await ask(services, session)
    vic = await signed_in(server, signin, WS, "vic")
    try:
        page = await vic.get("/web/inbox")
        assert "Nothing waits for you" in page.text
        refused = await vic.post(
            f"/web/requests/{request_id}/decision", {"decision": "approve", "csrf": page.csrf}
        )
        assert refused.status == 403, refused.text
        assert "you need to be the owner, an approver or an admin" in refused.text
        assert await status(services, request_id) is RequestStatus.PENDING
    finally:
        await vic.close()


async def test_user_text_is_inert_on_every_page(
    ana: Browser, services: Services, session: Session
) -> None:
    await ask(services, session)
    await services.plans.submit(OWNER, str(session.ref), [f"step {XSS}"])
    await services.history.append(AGENT, str(session.ref), f"deploy log {XSS}")
    pages = [
        "/web/inbox",
        "/web/sessions",
        f"/web/sessions/{session.id}",
        "/web/sessions?q=deploy",
        "/web/stats",
    ]
    for path in pages:
        page = await ana.get(path)
        assert page.status == 200, path
        assert "<script>alert" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path  # shown, as text
        assert page.text.count("<script") == 1, path  # our own script tag only
    refused = await ana.get(f"/web/sessions?owner={XSS}")  # echoed in an error message
    assert refused.status == 422 and "<script>alert" not in refused.text


async def test_a_bad_edit_or_a_late_decision_is_refused_with_a_reason(
    ana: Browser, services: Services, session: Session
) -> None:
    request_id = await ask(services, session)
    page = await ana.get("/web/inbox")
    path = f"/web/requests/{request_id}/decision"
    bad = await ana.post(path, {"decision": "approve", "csrf": page.csrf, "args": "{nope"})
    assert bad.status == 422 and "not valid JSON" in bad.text
    assert await status(services, request_id) is RequestStatus.PENDING
    await services.requests.decide(OWNER, request_id, Decision.REJECT)
    late = await ana.post(path, {"decision": "approve", "csrf": page.csrf})
    assert late.status == 409 and "already rejected by" in late.text
