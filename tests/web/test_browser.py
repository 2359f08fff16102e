"""The web inbox in a real headless Chromium (the system's, driven by Playwright) beside the
real Bolt app against the fake Slack Web API, as `sessionbot serve` wires them.

An agent asks through the API and long-polls; a person signs in with a one-time link, edits the
argument and approves in the browser: the agent's long-poll returns the edited value and Slack's
message is updated in place (chat.update on the fake). A decision clicked in Slack then shows in
the open inbox without a reload. Screenshots of the pages go to
the folder SESSIONBOT_SCREENSHOTS names (docs/screenshots/ by `make screenshots`), else to tmp.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from bot.api import mount_api
from bot.app import Core
from bot.config import Config
from bot.http import HttpServer
from bot.web import mount_configured
from core.clock import ManualClock
from core.services.web_signin import SignIn
from core.tokens import TokenService
from tests.adapters.slack.harness import ALICE, BOB, WORKSPACE, SlackBot, has_buttons
from tests.fakes.slack_api import FakeSlackApi, Message

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000  # the longest the browser waits for something to show (bounded, not timed)
AGENT_HTTP = ClientTimeout(total=70)  # the agent's client: its long-poll waits up to 60 s

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)


def serve_routes(http: HttpServer, core: Core, config: Config) -> None:
    """What `sessionbot serve` mounts beside Slack's routes: the API and the web inbox."""
    mount_api(http.app, core.services)
    mount_configured(http.app, core.services, config)


@pytest.fixture
async def bot(db_url: str, clock: ManualClock) -> AsyncIterator[SlackBot]:
    """Wired as `sessionbot serve` does with SESSIONBOT_WEB=on: API, web and Slack on one
    server, against a fake Slack Web API (`bot.fake`)."""
    async with FakeSlackApi() as fake:
        running = await SlackBot.start(db_url, fake, clock, mount=serve_routes, SESSIONBOT_WEB="on")
        yield running
        await running.close()


@pytest.fixture
async def context(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    async with async_playwright() as p:
        ctx = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh, empty profile
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1100, "height": 800},
        )
        ctx.set_default_timeout(WAIT_MS)
        try:
            yield ctx
        finally:
            await ctx.close()


async def api(bot: SlackBot, method: str, path: str, token: str, body: Any = None) -> Any:
    """The agent's call to the API, on a client of its own (long enough for a long-poll)."""
    url = f"http://127.0.0.1:{bot.http.port}/api/v1{path}"
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        ClientSession(timeout=AGENT_HTTP) as agent,
        agent.request(method, url, json=body, headers=headers) as response,
    ):
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def ask(bot: SlackBot, token: str, version: str) -> tuple[str, Message]:
    """The agent asks to deploy `version` in session #1; returns the request and its post."""
    body = {"action": "deploy", "args": {"service": "api", "version": version},
            "summary": f"Deploy api {version} to production"}  # fmt: skip
    created = await api(bot, "POST", "/sessions/1/requests", token, body)
    await bot.deliver()
    posts = [m for m in bot.fake.messages if has_buttons(m.blocks) and version in (m.text or "")]
    if not posts:
        posts = [m for m in bot.fake.messages if has_buttons(m.blocks)]
    return str(created["id"]), posts[-1]


SHOTS = ("sign-in", "inbox", "sessions", "session", "stats")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Where the screenshots go: the folder SESSIONBOT_SCREENSHOTS names (`make screenshots`
    writes the README's, docs/screenshots), else this test's own folder (a test run leaves the
    work tree as it was). After the test, each of SHOTS is there as a PNG."""
    folder = Path(os.environ.get("SESSIONBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    for name in SHOTS:
        assert (folder / f"{name}.png").read_bytes()[:8] == PNG, name


async def shoot(page: Page, name: str, folder: Path) -> None:
    assert name in SHOTS
    shot = await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert shot[:8] == PNG, name


async def test_sign_in_edit_and_approve_then_a_slack_click_shows_live(
    bot: SlackBot, context: BrowserContext, clock: ManualClock, shots: Path
) -> None:
    fake = bot.fake
    await bot.command("start deploy api mode:release")
    await bot.command(f"share <@{BOB}|bob> approver")
    await bot.deliver()
    _, token = await TokenService(bot.core.store.tokens, clock=clock).create(
        WORKSPACE, "agent", user_id=ALICE
    )
    request_id, post = await ask(bot, token, "1.2")
    waiting = asyncio.create_task(api(bot, "GET", f"/requests/{request_id}?wait=60", token))

    link = await SignIn(bot.core.store, clock).link(WORKSPACE, BOB)
    page = await context.new_page()
    base = f"http://127.0.0.1:{bot.http.port}"
    await page.goto(f"{base}/web/login/{link}")
    await shoot(page, "sign-in", shots)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}/web/inbox")
    item = page.locator(f"#request-{request_id}")
    await expect(item).to_contain_text("Deploy api 1.2 to production")
    await expect(page.locator("main")).to_have_attribute("data-connected", "1")
    await shoot(page, "inbox", shots)

    arguments = item.get_by_label("Arguments")
    edited = json.loads(await arguments.input_value()) | {"version": "1.2.1"}
    await arguments.fill(json.dumps(edited))
    await item.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status").first).to_contain_text("Your decision was recorded")

    answered = await asyncio.wait_for(waiting, timeout=30)
    assert answered["status"] == "approved" and answered["decided_by"] == BOB
    assert answered["args_to_run"] == {"service": "api", "version": "1.2.1"}
    await bot.deliver()
    (update,) = [c for c in fake.calls_to("chat.update") if c.params["ts"] == post.ts]
    assert update.params["channel"] == post.channel
    assert "1.2.1" in json.dumps(update.params) and not has_buttons(post.blocks)

    # Open inbox, then another request (through the API) and a click in Slack: no reload.
    await page.evaluate("window.kept = 'this page was not reloaded'")
    second, second_post = await ask(bot, token, "1.3")
    await expect(page.locator(f"#request-{second}")).to_be_visible()
    (clicked,) = await bot.click("request_approve", second_post, BOB)
    assert "Approved by" in (clicked.text or "")
    await expect(page.locator(f"#request-{second}")).to_have_count(0)
    await expect(page.get_by_text("Nothing waits for you")).to_be_visible()
    assert await page.evaluate("window.kept") == "this page was not reloaded"

    await page.goto(f"{base}/web/sessions")
    await expect(page.get_by_role("link", name="deploy api")).to_be_visible()
    await shoot(page, "sessions", shots)
    await page.get_by_role("link", name="deploy api").click()
    await expect(page.get_by_role("heading", name="#1 deploy api")).to_be_visible()
    await expect(page.locator("table.timeline")).to_contain_text("request_decided")
    await shoot(page, "session", shots)
    await page.evaluate("window.kept = 'session page'")
    stats = await context.new_page()
    await stats.goto(f"{base}/web/stats")
    await expect(stats.locator("figcaption").nth(2)).to_have_text("Plan approval latency")
    await shoot(stats, "stats", shots)
    await stats.close()
    paused = await bot.command("pause 1 waiting for the window")
    assert "paused" in (paused[0].text or "").lower(), paused
    await expect(page.locator("dl.header")).to_contain_text("paused")
    await expect(page.locator("table.timeline")).to_contain_text("waiting for the window")
    assert await page.evaluate("window.kept") == "session page"
