"""Multi-workspace OAuth: install flow, per-team tokens, restarts, refusals and quiet logs.

A real Bolt `AsyncApp` served over HTTP on 127.0.0.1 with `SLACK_CLIENT_ID`/`_SECRET` set (no
bot token), against the fake Web API, which answers `oauth.v2.access` for granted codes and
`auth.test` per installed team's token.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientSession

from adapters.slack.adapter import SlackAdapter
from adapters.slack.installations import SlackInstallationStore
from bot.app import open_core
from bot.config import load_config
from bot.http import HttpServer
from bot.serve import chat_adapters
from core.clock import ManualClock
from core.errors import ConfigError
from tests.adapters.slack.harness import HTTP_TIMEOUT, SlackBot, slack_env
from tests.fakes.slack_api import FakeSlackApi

# slack_sdk sends the client id and secret of oauth.v2.access with aiohttp's BasicAuth.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

STATE_COOKIE = "slack-app-oauth-state"
SCOPES = ["commands", "chat:write", "im:write", "users:read"]


def oauth_env(db_url: str, fake: FakeSlackApi) -> dict[str, str]:
    env = slack_env(
        db_url, fake, SLACK_CLIENT_ID=fake.client_id, SLACK_CLIENT_SECRET=fake.client_secret
    )
    del env["SLACK_BOT_TOKEN"]
    return env


async def start_oauth_bot(db_url: str, fake: FakeSlackApi, clock: ManualClock) -> SlackBot:
    """`sessionbot serve`'s wiring in OAuth mode (no SLACK_BOT_TOKEN)."""
    config = load_config(oauth_env(db_url, fake))
    core = await open_core(config, clock=clock)
    http = HttpServer(config.http_host, config.http_port)
    (adapter,) = chat_adapters(config, core, http)
    assert isinstance(adapter, SlackAdapter) and adapter.oauth is not None
    core.dispatcher.register(adapter.delivery)
    await http.start()
    await adapter.start()
    return SlackBot(fake, core, http, adapter, ClientSession(timeout=HTTP_TIMEOUT))


@pytest.fixture
async def app(db_url: str, fake: FakeSlackApi, clock: ManualClock) -> AsyncIterator[SlackBot]:
    running = await start_oauth_bot(db_url, fake, clock)
    yield running
    await running.close()


def base(bot: SlackBot) -> str:
    return f"http://127.0.0.1:{bot.http.port}"


async def begin_install(bot: SlackBot) -> tuple[str, str]:
    """GET /slack/install; returns (Slack authorize URL, the state cookie's value)."""
    async with bot.web.get(f"{base(bot)}/slack/install", allow_redirects=False) as resp:
        assert resp.status == 302
        return resp.headers["Location"], resp.cookies[STATE_COOKIE].value


async def finish_install(
    bot: SlackBot, *, code: str, state: str | None, cookie: str | None
) -> tuple[int, str]:
    """Slack sends the browser back to GET /slack/oauth_redirect?code=…&state=…."""
    params = {"code": code} | ({"state": state} if state is not None else {})
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie is not None else {}
    url = f"{base(bot)}/slack/oauth_redirect"
    async with bot.web.get(url, params=params, headers=headers, allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def install(bot: SlackBot, team_id: str) -> None:
    bot.fake.grant_code(f"code-{team_id}", team_id)
    url, cookie = await begin_install(bot)
    state = parse_qs(urlsplit(url).query)["state"][0]
    status, _ = await finish_install(bot, code=f"code-{team_id}", state=state, cookie=cookie)
    assert status == 200


# -- the install flow ---------------------------------------------------------------------------


async def test_install_redirects_to_slack_authorize_with_client_id_scopes_and_state(
    app: SlackBot, fake: FakeSlackApi
) -> None:
    url, cookie = await begin_install(app)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://slack.com/oauth/v2/authorize"
    assert query["client_id"] == [fake.client_id]
    assert query["scope"][0].split(",") == SCOPES
    assert query["state"] == [cookie] and len(cookie) >= 20


async def test_oauth_redirect_with_valid_state_stores_the_installation(
    app: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    fake.grant_code("code-1", "T0002", name="second", installer_id="U0ADMIN")
    url, cookie = await begin_install(app)
    state = parse_qs(urlsplit(url).query)["state"][0]

    status, page = await finish_install(app, code="code-1", state=state, cookie=cookie)

    assert status == 200 and "xoxb-" not in page
    record = await app.core.store.installations.get("slack", team_id="T0002")
    assert record is not None
    assert record.bot_token == "xoxb-T0002" and record.bot_user_id == "U0BOTT0002"
    assert record.bot_id == "B0BOTT0002"  # from auth.test with the new token
    assert record.scopes == tuple(SCOPES) and record.installer_id == "U0ADMIN"
    assert record.data["team_name"] == "second" and "bot_token" not in record.data
    assert "xoxb-" not in repr(record)
    exchange = fake.last_call("oauth.v2.access")
    assert exchange.params["code"] == "code-1"
    # The state was used up: replaying the same redirect is refused.
    fake.grant_code("code-2", "T0002")
    status, _ = await finish_install(app, code="code-2", state=state, cookie=cookie)
    assert status == 401


async def test_oauth_redirect_with_bad_or_missing_state_is_refused(
    app: SlackBot, fake: FakeSlackApi, clock: ManualClock
) -> None:
    fake.grant_code("code-1", "T0002")
    url, cookie = await begin_install(app)
    state = parse_qs(urlsplit(url).query)["state"][0]

    missing = await finish_install(app, code="code-1", state=None, cookie=cookie)
    forged = await finish_install(app, code="code-1", state="forged", cookie="forged")
    other_browser = await finish_install(app, code="code-1", state=state, cookie=None)
    clock.advance(timedelta(minutes=11))
    expired = await finish_install(app, code="code-1", state=state, cookie=cookie)

    assert [missing[0], forged[0], other_browser[0], expired[0]] == [400, 401, 400, 401]
    assert await app.core.store.installations.every("slack") == []
    assert fake.calls_to("oauth.v2.access") == []  # the code was never even exchanged


# -- per-workspace tokens -----------------------------------------------------------------------


async def test_two_workspaces_each_post_their_card_with_their_own_token(
    app: SlackBot, fake: FakeSlackApi
) -> None:
    await install(app, "T0002")
    await install(app, "T0003")
    checks_at_install = len(fake.calls_to("auth.test"))

    for team, channel in (("T0002", "C0002"), ("T0003", "C0003")):
        (started,) = await app.command("start deploy api", team_id=team, channel_id=channel)
        assert "started by <@U0ALICE>" in (started.text or "")
        await app.command("status", team_id=team, channel_id=channel)
    await app.deliver()

    posted = {c.params["channel"]: c.token for c in fake.calls_to("chat.postMessage", ok_only=True)}
    assert posted == {"C0002": "xoxb-T0002", "C0003": "xoxb-T0003"}
    # users.info (workspace admins) also asks each workspace with its own token.
    assert {c.token for c in fake.calls_to("users.info")} == {"xoxb-T0002", "xoxb-T0003"}
    for team in ("T0002", "T0003"):
        session = await app.core.store.sessions.get(f"slack:{team}", "1")
        assert session is not None and session.thread_ref is not None
    # auth.test once per team (the authorize cache), not once per request.
    checks = [c.token for c in fake.calls_to("auth.test")[checks_at_install:]]
    assert sorted(checks) == ["xoxb-T0002", "xoxb-T0003"]


async def test_installations_are_still_used_after_a_restart_on_the_same_database(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    first = await start_oauth_bot(db_url, fake, clock)
    try:
        await install(first, "T0002")
    finally:
        await first.close()
    fake.reset()

    second = await start_oauth_bot(db_url, fake, clock)
    try:
        (started,) = await second.command("start after restart", team_id="T0002")
        await second.deliver()
    finally:
        await second.close()

    assert "started by" in (started.text or "")
    (card,) = fake.calls_to("chat.postMessage", ok_only=True)
    assert card.token == "xoxb-T0002"
    assert fake.calls_to("oauth.v2.access") == []


async def test_a_team_that_never_installed_gets_a_clear_refusal(
    app: SlackBot, fake: FakeSlackApi
) -> None:
    await install(app, "T0002")

    (refusal,) = await app.command("start sneaky", team_id="T0404", channel_id="C0404")
    await app.deliver()

    assert "not installed in this Slack workspace" in (refusal.text or "")
    assert "/slack/install" in (refusal.text or "")
    assert await app.core.store.sessions.get("slack:T0404", "1") is None
    assert fake.calls_to("chat.postMessage") == []


async def test_delivery_to_a_workspace_without_installation_fails_permanently(
    app: SlackBot, fake: FakeSlackApi
) -> None:
    await install(app, "T0002")
    await app.command("start deploy", team_id="T0002", channel_id="C0002")
    store = SlackInstallationStore(app.core.store.installations)
    await store.async_delete_all(enterprise_id=None, team_id="T0002")  # app_uninstalled

    await app.deliver()

    assert fake.calls_to("chat.postMessage") == []
    (row,) = await app.core.store.outbox.rows(
        session_id=(await app.core.store.sessions.get("slack:T0002", "1")).id  # type: ignore[union-attr]
    )
    assert row.status == "dead" and "no Slack installation" in (row.last_error or "")


# -- secrets ------------------------------------------------------------------------------------


async def test_tokens_and_client_secret_never_reach_the_logs(
    app: SlackBot, fake: FakeSlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await install(app, "T0002")
    await app.command("start deploy api", team_id="T0002", channel_id="C0002")
    await app.command("status", team_id="T0002", channel_id="C0002")
    await app.command("start sneaky", team_id="T0404")
    await app.deliver()

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "installed in team T0002" in logged  # the logs did capture this run
    assert "xoxb-" not in logged
    assert fake.client_secret not in logged


def test_the_database_holding_tokens_is_private(app: SlackBot, tmp_path: Path) -> None:
    mode = stat.S_IMODE(os.stat(tmp_path / "sessions.db").st_mode)
    assert mode == 0o600


# -- configuration ------------------------------------------------------------------------------


async def test_client_id_without_secret_is_a_configuration_error(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    env = oauth_env(db_url, fake)
    del env["SLACK_CLIENT_SECRET"]
    config = load_config(env)
    core = await open_core(config, clock=clock)
    try:
        with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET"):
            chat_adapters(config, core, HttpServer("127.0.0.1", 0))
    finally:
        await core.close()
