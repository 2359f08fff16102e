"""Sign in with Slack (OpenID Connect) against a local fake of Slack's consent page and its
openid.connect.token / userInfo methods: the happy path, a wrong state, a replayed code and a
sign-in that took too long are refused."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.http import HttpServer
from bot.web import mount_web
from bot.web.oidc import SlackSignIn
from core.clock import ManualClock
from core.wiring import Services
from tests.fakes.slack_api import FakeSlackApi
from tests.web.conftest import Browser, assert_round_trip_refusals


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as api:
        api.openid_user = ("T0001", "U0BOB")
        yield api


@pytest.fixture
async def site(services: Services, fake: FakeSlackApi) -> AsyncIterator[str]:
    """The bot's server with Sign in with Slack configured against the fake."""
    port = _free_port()
    http = HttpServer("127.0.0.1", port)
    slack = SlackSignIn(fake.client_id, fake.client_secret, fake.base_url)
    mount_web(http.app, services, on=True, base_url=f"http://127.0.0.1:{port}", slack=slack)
    await http.start()
    yield f"http://127.0.0.1:{port}"
    await http.stop()


async def consent(b: Browser) -> str:
    """Start signing in and pass Slack's consent page: the callback path Slack sends back."""
    started = await b.get("/web/login/slack")
    assert started.status == 302
    authorize = started.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["scope"] == ["openid profile"] and query["redirect_uri"][0].startswith(b.base)
    async with b.http.get(authorize, allow_redirects=False) as slack:
        assert slack.status == 302
        back = slack.headers["Location"]
    assert back.startswith(b.base + "/web/login/slack/callback?")
    return back.removeprefix(b.base)


async def test_sign_in_with_slack_opens_a_session_in_that_workspace(site: str) -> None:
    b = Browser(site)
    try:
        assert (await b.get("/web/inbox")).text.count('href="/web/login/slack"') == 1
        signed = await b.get(await consent(b))
        assert signed.status == 303 and signed.headers["Location"] == "/web/inbox"
        page = await b.get("/web/inbox")
        assert page.status == 200 and "U0BOB · slack:T0001" in page.text
    finally:
        await b.close()


async def test_a_wrong_state_a_replayed_code_or_a_slow_sign_in_is_refused(
    site: str, clock: ManualClock
) -> None:
    await assert_round_trip_refusals(site, clock, consent, "/web/login/slack/callback")


async def test_without_slack_credentials_there_is_no_slack_sign_in(browser: Browser) -> None:
    assert (await browser.get("/web/login/slack")).status == 404
    assert 'href="/web/login/slack"' not in (await browser.get("/web/inbox")).text
