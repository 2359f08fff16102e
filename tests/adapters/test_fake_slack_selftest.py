"""Self-test: a real slack-bolt AsyncApp over HTTP on 127.0.0.1 works against FakeSlackApi."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlackApi, FakeSlackTimeoutError
from tests.fakes.slack_signing import (
    DEFAULT_SIGNING_SECRET,
    SignedRequest,
    block_actions_request,
    compute_signature,
    slash_command_request,
    view_submission_request,
)

BOT_TOKEN = "xoxb-test"
HTTP_TIMEOUT = ClientTimeout(total=10)
LISTENER_TIMEOUT = 10.0


@dataclass
class BoltUnderTest:
    """A served Bolt app plus events its listeners set when they finish."""

    url: str
    app: AsyncApp
    done: dict[str, asyncio.Event] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)

    async def finished(self, name: str) -> None:
        """Wait (bounded) until the named listener has run to the end."""
        async with asyncio.timeout(LISTENER_TIMEOUT):
            await self.done[name].wait()
        assert not self.errors, self.errors


def make_client(fake: FakeSlackApi) -> AsyncWebClient:
    """Return an AsyncWebClient aimed at the fake that retries 429s."""
    retry = AsyncRateLimitErrorRetryHandler(max_retry_count=2)
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url, retry_handlers=[retry])


def build_app(bolt: BoltUnderTest) -> None:
    """Register a /session command, a button action and a modal submission listener."""
    app = bolt.app
    for name in ("command", "action", "view"):
        bolt.done[name] = asyncio.Event()

    @app.command("/session")
    async def on_session(
        ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            await respond(text=f"Working on `{body['text']}`", response_type="ephemeral")
            await client.chat_postMessage(channel=body["channel_id"], text=f"plan: {body['text']}")
        except Exception as exc:  # recorded so the test fails with the real cause
            bolt.errors.append(exc)
        finally:
            bolt.done["command"].set()

    @app.action("plan_approve")
    async def on_approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            container = body["container"]
            await client.chat_update(
                channel=container["channel_id"], ts=container["message_ts"], text="approved"
            )
        except Exception as exc:
            bolt.errors.append(exc)
        finally:
            bolt.done["action"].set()

    @app.view("session_modal")
    async def on_submit(ack: AsyncAck) -> None:
        await ack()
        bolt.done["view"].set()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    """A running fake Slack API."""
    async with FakeSlackApi() as api:
        yield api


@pytest.fixture
async def bolt(fake: FakeSlackApi) -> AsyncIterator[BoltUnderTest]:
    """A real AsyncApp served by aiohttp on a free loopback port, talking to the fake."""
    app = AsyncApp(signing_secret=DEFAULT_SIGNING_SECRET, client=make_client(fake))
    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        under_test = BoltUnderTest(url=f"http://127.0.0.1:{port}/slack/events", app=app)
        build_app(under_test)
        yield under_test
    finally:
        await runner.cleanup()


async def post(url: str, request: SignedRequest) -> tuple[int, str]:
    """POST the exact signed bytes; return (status, body text)."""
    async with (
        ClientSession(timeout=HTTP_TIMEOUT) as http,
        http.post(url, data=request.body, headers=request.headers) as resp,
    ):
        return resp.status, await resp.text()


def test_signature_matches_slack_sdk_verifier() -> None:
    """Our signer agrees with slack_sdk's SignatureVerifier, and a wrong secret does not."""
    good = slash_command_request("status", response_url="http://127.0.0.1:1/response/x")
    bad = slash_command_request("status", response_url="x", secret="wrong-secret")
    verifier = SignatureVerifier(DEFAULT_SIGNING_SECRET)
    assert verifier.is_valid_request(good.body, good.headers)
    assert not verifier.is_valid_request(bad.body, bad.headers)
    ts = good.headers["X-Slack-Request-Timestamp"]
    assert good.headers["X-Slack-Signature"] == compute_signature(
        DEFAULT_SIGNING_SECRET, ts, good.body
    )


async def test_slash_command_roundtrip(fake: FakeSlackApi, bolt: BoltUnderTest) -> None:
    """Signed /session → 200; the listener's respond() and chat.postMessage reach the fake."""
    request = slash_command_request("start deploy-api", response_url=fake.response_url("cmd1"))
    status, _ = await post(bolt.url, request)
    assert status == 200
    await bolt.finished("command")

    auth = fake.last_call("auth.test")
    assert auth.token == BOT_TOKEN
    posted = fake.last_call("chat.postMessage")
    assert posted.params["channel"] == "C0001"
    assert posted.params["text"] == "plan: start deploy-api"
    assert posted.headers["content-type"].startswith("application/json")
    assert [m.text for m in fake.messages] == ["plan: start deploy-api"]
    [response] = fake.responses_to("cmd1")
    assert response.text == "Working on `start deploy-api`"
    assert response.response_type == "ephemeral"


@pytest.mark.parametrize(
    ("secret", "age_seconds"),
    [("wrong-secret", 0), (DEFAULT_SIGNING_SECRET, 6 * 60)],
    ids=["forged", "stale"],
)
async def test_bad_signature_is_rejected(
    fake: FakeSlackApi, bolt: BoltUnderTest, secret: str, age_seconds: int
) -> None:
    """A forged signature or a 6-minute-old timestamp gets 401 and calls nothing."""
    request = slash_command_request(
        "start x",
        response_url=fake.response_url(),
        secret=secret,
        timestamp=int(time.time()) - age_seconds,
    )
    status, _ = await post(bolt.url, request)
    assert status == 401
    assert not bolt.done["command"].is_set()
    assert fake.calls == []
    assert fake.responses == []


async def test_rate_limited_post_is_retried_once(fake: FakeSlackApi, bolt: BoltUnderTest) -> None:
    """A 429 with Retry-After: 1 is retried by the handler and delivered exactly once."""
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    request = slash_command_request("start retry", response_url=fake.response_url())
    status, _ = await post(bolt.url, request)
    assert status == 200
    await fake.wait_for("chat.postMessage", ok_only=True, timeout=LISTENER_TIMEOUT)
    await bolt.finished("command")

    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    assert len(fake.messages) == 1


async def test_button_click_and_modal_submission(fake: FakeSlackApi, bolt: BoltUnderTest) -> None:
    """Signed block_actions and view_submission requests are accepted and routed."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    posted = await client.chat_postMessage(channel="C0001", text="plan")
    click = block_actions_request(
        "plan_approve", "S1", response_url=fake.response_url(), message_ts=posted["ts"]
    )
    assert (await post(bolt.url, click))[0] == 200
    await bolt.finished("action")
    message = fake.find_message("C0001", posted["ts"])
    assert message is not None and message.text == "approved"
    assert fake.last_call("chat.update").params["ts"] == posted["ts"]

    submit = view_submission_request("session_modal", state_values={"b": {"a": {"value": "x"}}})
    assert (await post(bolt.url, submit))[0] == 200
    await bolt.finished("view")


async def test_web_api_methods(fake: FakeSlackApi) -> None:
    """Each faked Web API method answers the way slack_sdk expects."""
    fake.set_user("U0ADMIN", name="ada", is_admin=True)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)

    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0001", "U0BOT", "B0BOT")
    assert "chat:write" in auth.headers["x-oauth-scopes"]

    first = await client.chat_postMessage(channel="C0001", text="a", blocks=[{"type": "divider"}])
    second = await client.chat_postMessage(channel="C0001", text="b", thread_ts=first["ts"])
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert fake.messages[0].blocks == [{"type": "divider"}]
    assert fake.messages[1].thread_ts == first["ts"]

    updated = await client.chat_update(channel="C0001", ts=first["ts"], text="a2")
    assert updated["ts"] == first["ts"] and fake.messages[0].text == "a2"
    eph = await client.chat_postEphemeral(channel="C0001", user="U0ALICE", text="psst")
    assert eph["message_ts"] and fake.ephemerals[0].user == "U0ALICE"

    title = {"type": "plain_text", "text": "S"}
    view = {"type": "modal", "callback_id": "session_modal", "title": title}
    opened = await client.views_open(trigger_id="1.2.3", view=view)
    assert opened["view"]["id"] == fake.views[0].view_id
    assert fake.views[0].view["callback_id"] == "session_modal"

    dm = await client.conversations_open(users="U0ALICE")
    assert dm["channel"]["id"] == "DU0ALICE"
    assert (await client.users_info(user="U0ADMIN"))["user"]["is_admin"] is True
    default = (await client.users_info(user="U0BOB"))["user"]
    assert (default["is_admin"], default["is_owner"]) == (False, False)


async def test_form_encoded_body_is_accepted(fake: FakeSlackApi) -> None:
    """A form-encoded call (blocks as a JSON string) is parsed like the JSON one."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    form = {"channel": "C0001", "text": "f", "blocks": '[{"type": "divider"}]'}
    resp = await client.api_call("chat.postMessage", data=form)
    assert resp["ok"]
    call = fake.last_call("chat.postMessage")
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.params["blocks"] == [{"type": "divider"}]


async def test_fail_next_fails_once(fake: FakeSlackApi) -> None:
    """fail_next returns ok=false once; the following call succeeds."""
    fake.fail_next("chat.postMessage", "not_in_channel")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0001", text="x")
    assert info.value.response["error"] == "not_in_channel"
    assert (await client.chat_postMessage(channel="C0001", text="x"))["ok"]
    assert [c.ok for c in fake.calls_to("chat.postMessage")] == [False, True]


async def test_rate_limit_without_retry_handler_raises(fake: FakeSlackApi) -> None:
    """With slack_sdk's default handlers a 429 surfaces as SlackApiError with Retry-After."""
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0001", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"


async def test_wait_for_is_bounded(fake: FakeSlackApi) -> None:
    """wait_for raises promptly when the expected call never arrives."""
    with pytest.raises(FakeSlackTimeoutError):
        await fake.wait_for("chat.postMessage", timeout=0.05)
    with pytest.raises(FakeSlackTimeoutError):
        await fake.wait_for_responses(timeout=0.05)
