"""Sign in with Discord (OAuth2, `identify` and `guilds`) against a local fake of Discord's
authorize page, token endpoint and users/@me(/guilds): a member of one of the bot's servers is
signed in to it, one of several picks a server, and a wrong state, a replayed code, a server
the bot is not in, a choice not offered or a sign-in that took too long are refused."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.http import HttpServer
from bot.web import mount_web
from bot.web.discord_oauth import DiscordSignIn
from core.clock import ManualClock
from core.models import Actor, ChatRef, Source
from core.wiring import Services
from tests.fakes.discord_api import API_PREFIX, FakeDiscord, FakeGuild, FakeUser
from tests.web.conftest import Browser, assert_round_trip_refusals

NONCE = re.compile(r'name="nonce" value="([^"]+)"')
BOB = FakeUser(username="bob")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    guild = FakeGuild(name="Ops <b>team</b>", members=[BOB])
    async with FakeDiscord(guilds=[guild], token="bot-token") as api:
        api.oauth_user = BOB
        api.other_guilds = [FakeGuild(name="Elsewhere", members=[BOB])]
        yield api


async def _site(services: Services, fake: FakeDiscord, guild_ids: tuple[str, ...]) -> HttpServer:
    port = _free_port()
    http = HttpServer("127.0.0.1", port)
    discord = DiscordSignIn.at(
        fake.oauth_client_id, fake.oauth_client_secret, fake.base_url + API_PREFIX, guild_ids
    )
    mount_web(http.app, services, on=True, base_url=f"http://127.0.0.1:{port}", discord=discord)
    await http.start()
    return http


@pytest.fixture
async def site(services: Services, fake: FakeDiscord) -> AsyncIterator[str]:
    """The bot's server with Sign in with Discord configured against the fake, serving the
    fake's one guild (DISCORD_GUILD_IDS)."""
    http = await _site(services, fake, (str(fake.guild.id),))
    yield f"http://127.0.0.1:{http.port}"
    await http.stop()


async def consent(b: Browser) -> str:
    """Start signing in and pass Discord's consent page: the callback path Discord sends back."""
    started = await b.get("/web/login/discord")
    assert started.status == 302
    authorize = started.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["scope"] == ["identify guilds"] and query["redirect_uri"][0].startswith(b.base)
    async with b.http.get(authorize, allow_redirects=False) as discord:
        assert discord.status == 302
        back = discord.headers["Location"]
    assert back.startswith(b.base + "/web/login/discord/callback?")
    return back.removeprefix(b.base)


async def test_a_member_of_the_bots_server_signs_in_to_it(site: str, fake: FakeDiscord) -> None:
    b = Browser(site)
    try:
        assert (await b.get("/web/inbox")).text.count('href="/web/login/discord"') == 1
        signed = await b.get(await consent(b))
        assert signed.status == 303 and signed.headers["Location"] == "/web/inbox"
        assert any(c.startswith("sessionbot=") and "HttpOnly" in c for c in signed.cookies)
        page = await b.get("/web/inbox")
        assert page.status == 200 and f"{BOB.id} · discord:{fake.guild.id}" in page.text
        token_calls = [r for r in fake.requests if r.path == "/api/oauth2/token"]
        assert len(token_calls) == 1 and token_calls[0].method == "POST"
    finally:
        await b.close()


async def test_a_wrong_state_a_replayed_code_or_a_slow_sign_in_is_refused(
    site: str, clock: ManualClock
) -> None:
    await assert_round_trip_refusals(site, clock, consent, "/web/login/discord/callback")


async def test_a_server_the_bot_is_not_in_is_refused(services: Services, fake: FakeDiscord) -> None:
    """Bob is in two servers; the bot serves neither (by configuration), so no sign-in."""
    http = await _site(services, fake, ("1234567890",))
    b = Browser(f"http://127.0.0.1:{http.port}")
    try:
        refused = await b.get(await consent(b))
        assert refused.status == 403 and "no Discord server this bot serves" in refused.text
        assert (await b.get("/web/inbox")).status == 401
    finally:
        await b.close()
        await http.stop()


async def test_with_several_shared_servers_the_person_picks_one_offered(
    services: Services, fake: FakeDiscord, clock: ManualClock
) -> None:
    """Without DISCORD_GUILD_IDS the bot's servers are those the store knows: both of Bob's.
    The chooser escapes server names; a server not offered or a forged nonce is refused."""
    other = fake.other_guilds[0]
    for guild in (fake.guild, other):
        ws = f"discord:{guild.id}"
        owner = Actor(ws, str(fake.guild.owner.id), Source.DISCORD)
        await services.sessions.start(owner, ChatRef("discord", ws, "1"), "known here")
    http = await _site(services, fake, ())
    b = Browser(f"http://127.0.0.1:{http.port}")
    try:
        chooser = await b.get(await consent(b))
        assert chooser.status == 200 and "Choose a server" in chooser.text
        assert "Ops &lt;b&gt;team&lt;/b&gt;" in chooser.text and "<b>team" not in chooser.text
        assert f'value="{fake.guild.id}"' in chooser.text and f'value="{other.id}"' in chooser.text
        found = NONCE.search(chooser.text)
        assert found
        nonce = found.group(1)
        forged = await b.post(
            "/web/login/discord/choose", {"nonce": "x" * 32, "guild": str(other.id)}
        )
        assert forged.status == 403 and "not offered in this browser" in forged.text
        unoffered = await b.post("/web/login/discord/choose", {"nonce": nonce, "guild": "42"})
        assert unoffered.status == 403 and "pick one of the servers offered" in unoffered.text
        assert (await b.get("/web/inbox")).status == 401
        picked = await b.post("/web/login/discord/choose", {"nonce": nonce, "guild": str(other.id)})
        assert picked.status == 303 and picked.headers["Location"] == "/web/inbox"
        page = await b.get("/web/inbox")
        assert page.status == 200 and f"{BOB.id} · discord:{other.id}" in page.text
        again = await b.post("/web/login/discord/choose", {"nonce": nonce, "guild": str(other.id)})
        assert again.status == 403, "the choice is used up with the sign-in"
    finally:
        await b.close()
        await http.stop()


async def test_without_discord_credentials_there_is_no_discord_sign_in(browser: Browser) -> None:
    assert (await browser.get("/web/login/discord")).status == 404
    assert (await browser.get("/web/login/discord/callback?code=x&state=y")).status == 404
    assert 'href="/web/login/discord"' not in (await browser.get("/web/inbox")).text
