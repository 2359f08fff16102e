"""At DEBUG, a whole Slack flow and a burst of refused requests log no secret and no body."""

from __future__ import annotations

import io
import json
import re
import time

from aiohttp import ClientSession

from core.clock import ManualClock
from tests.adapters.slack.harness import ALICE, BOB, BOT_TOKEN, SlackBot
from tests.adapters.slack.test_flow import start_with_plan
from tests.bot.logcapture import debug_logs, leaked
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET, block_actions_request, signed_headers

BURST = 20
PER_REFUSAL = 300  # bytes of log a refused request may add
MARKER = "unsigned-body-marker"


async def _refused(web: ClientSession, url: str) -> list[int]:
    """Unsigned, forged, malformed and oversized requests; their statuses."""
    body = f"token=x&command=%2Fsession&text={MARKER}".encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses: list[int] = []
    for n in range(BURST):
        async with web.post(url, data=body, headers=form) as response:
            statuses.append(response.status)
        forged = signed_headers(body, secret=f"wrong-secret-{n}")
        async with web.post(url, data=body, headers=forged) as response:
            statuses.append(response.status)
    bad_timestamp = signed_headers(body) | {"X-Slack-Request-Timestamp": "soon"}
    async with web.post(url, data=body, headers=bad_timestamp) as response:
        statuses.append(response.status)
    stale = signed_headers(body, timestamp=int(time.time()) - 3600)
    async with web.post(url, data=body, headers=stale) as response:
        statuses.append(response.status)
    huge = (f"text={MARKER}&pad=" + "x" * (1024 * 1024)).encode()
    async with web.post(url, data=io.BytesIO(huge), headers=form) as response:
        statuses.append(response.status)
    return statuses


async def test_slack_flow_and_refused_requests_log_no_secret_or_body(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    with debug_logs([BOT_TOKEN, DEFAULT_SIGNING_SECRET]) as logs:
        bot = await SlackBot.start(db_url, fake, clock)
        try:
            fake.set_user(ALICE, is_admin=True)
            plan = await start_with_plan(bot)
            (approved,) = await bot.click("plan_approve", plan, BOB)
            added = await bot.command("webhook add https://example.com/hook created")
            await bot.deliver()
            before = len(logs.getvalue())
            statuses = await _refused(bot.web, bot.url)
            grown = len(logs.getvalue()) - before
            long_url = f"{bot.url}?{'q' * 20_000}"
            async with bot.web.get(long_url) as response:
                too_long = response.status
        finally:
            await bot.close()
    text = logs.getvalue()
    reply = json.dumps([answer.body for answer in added])
    (webhook_secret,) = re.findall(r"[A-Za-z0-9_\-]{40,}", reply)

    assert "approved by" in (approved.text or "")
    assert "Slack app for team T0001" in text  # the capture works, at DEBUG
    assert statuses[:-1] == [401] * (2 * BURST + 2)
    assert statuses[-1] in (401, 413)
    assert too_long in (400, 414)
    assert grown <= PER_REFUSAL * len(statuses)
    assert "Traceback" not in text
    secrets = [BOT_TOKEN, DEFAULT_SIGNING_SECRET, webhook_secret, f"{fake.root_url}/response"]
    assert leaked(text, [*secrets, MARKER, "wrong-secret"]) == []


async def test_bolt_unhandled_request_warning_quotes_no_user_payload(
    db_url: str, fake: FakeSlackApi, clock: ManualClock
) -> None:
    with debug_logs([BOT_TOKEN, DEFAULT_SIGNING_SECRET]) as logs:
        bot = await SlackBot.start(db_url, fake, clock)
        try:
            request = block_actions_request(
                "no_such_action", MARKER, response_url=fake.response_url("unhandled")
            )
            status, _ = await bot.send(request)
        finally:
            await bot.close()
    text = logs.getvalue()
    assert status == 404  # Bolt refused it as unhandled
    assert "Unhandled request" not in text
    assert leaked(text, [MARKER]) == []
