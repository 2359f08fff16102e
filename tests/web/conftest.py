"""The bot's HTTP server with the API and the web inbox on 127.0.0.1, a browser-like client
(a cookie jar, forms) and helpers to sign in and read what a page holds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.api import mount_api
from bot.http import HttpServer
from bot.web import mount_web
from core.clock import ManualClock
from core.services.web_signin import SignIn
from core.wiring import Services
from tests.conftest import WS

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@dataclass(slots=True)
class Page:
    status: int
    text: str
    headers: dict[str, str]
    cookies: list[str]  # the Set-Cookie headers

    @property
    def csrf(self) -> str:
        found = CSRF.search(self.text)
        assert found, "the page has no form with a CSRF token"
        return found.group(1)


class Browser:
    """Keeps cookies like a browser (also for 127.0.0.1) and does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def request(self, method: str, path: str, **kw: object) -> Page:
        async with self.http.request(
            method,
            self.base + path,
            allow_redirects=False,
            **kw,  # type: ignore[arg-type]
        ) as response:
            return Page(
                response.status,
                await response.text(),
                dict(response.headers),
                response.headers.getall("Set-Cookie", []),
            )

    async def get(self, path: str) -> Page:
        return await self.request("GET", path)

    async def post(self, path: str, form: dict[str, str]) -> Page:
        return await self.request("POST", path, data=form)

    async def sign_in(self, token: str) -> Page:
        """Open the link and press its button: the answer to the POST."""
        shown = await self.get(f"/web/login/{token}")
        assert shown.status == 200, shown.text
        nonce = NONCE.search(shown.text)
        assert nonce
        return await self.post("/web/login", {"token": token, "nonce": nonce.group(1)})

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def server(services: Services) -> AsyncIterator[HttpServer]:
    http = HttpServer("127.0.0.1", 0)
    mount_api(http.app, services)
    mount_web(http.app, services, on=True, base_url="http://127.0.0.1:3000")
    await http.start()
    yield http
    await http.stop()


@pytest.fixture
def signin(services: Services, clock: ManualClock) -> SignIn:
    return SignIn(services.store, clock)


@pytest.fixture
async def browser(server: HttpServer) -> AsyncIterator[Browser]:
    b = Browser(f"http://127.0.0.1:{server.port}")
    yield b
    await b.close()


async def signed_in(server: HttpServer, signin: SignIn, workspace: str, user: str) -> Browser:
    """A new browser signed in as `user` of `workspace` (close it at the end)."""
    b = Browser(f"http://127.0.0.1:{server.port}")
    answer = await b.sign_in(await signin.link(workspace, user))
    assert answer.status == 303 and answer.headers["Location"] == "/web/inbox", answer.text
    return b


@pytest.fixture
async def ana(server: HttpServer, signin: SignIn) -> AsyncIterator[Browser]:
    """A browser signed in as `ana` of the test workspace."""
    b = await signed_in(server, signin, WS, "ana")
    yield b
    await b.close()


async def assert_round_trip_refusals(
    site: str, clock: ManualClock, consent: Callable[[Browser], Awaitable[str]], callback: str
) -> None:
    """A platform's sign-in (`consent` passes its consent page, `callback` is where it sends
    the browser back): a wrong state, a replayed code and a slow round trip are refused."""
    first, second = Browser(site), Browser(site)
    try:
        back = await consent(first)
        code = parse_qs(urlsplit(back).query)["code"][0]
        wrong = await first.get(back.replace("state=", "state=x"))
        assert wrong.status == 403 and "not started in this browser" in wrong.text
        assert (await first.get(back)).status == 303  # the code was not used by the refusal
        assert (await first.get(back)).status == 403, "the state is used up with the sign-in"

        replay = await consent(second)  # its own state, with the first browser's used code
        state = parse_qs(urlsplit(replay).query)["state"][0]
        replayed = await second.get(f"{callback}?code={code}&state={state}")
        assert replayed.status == 403 and "used or has expired" in replayed.text
        assert (await second.get("/web/inbox")).status == 401

        slow = await consent(second)
        clock.advance(11 * 60)
        late = await second.get(slow)
        assert late.status == 403 and "took too long" in late.text
        assert (await second.get("/web/inbox")).status == 401
    finally:
        await first.close()
        await second.close()
