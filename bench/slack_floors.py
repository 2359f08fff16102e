"""The floors a Slack command's cost is judged against (SPEC §14), each its own server process.

- `aiohttp`: a bare aiohttp handler at POST /slack/events that checks the Slack signature
  (slack_sdk's `SignatureVerifier`, as the bot does) and answers a fixed ephemeral JSON body.
- `bolt`: a bare Bolt `AsyncApp` (HTTP, the same signing secret, Bolt's default middleware,
  a bot token checked once with auth.test against the fake Web API) whose `/session` listener
  only acks; served on aiohttp with Bolt's own adapter.

Both run on the same event loop the bot runs on (uvloop when installed, see `bot.loop`), so the
bot's CPU per request minus a floor's is what the bot itself adds.

    python -m bench.slack_floors aiohttp|bolt PORT FAKE_API_URL
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.slack_signing import DEFAULT_SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("aiohttp", "bolt")
ANSWER = b'{"response_type":"ephemeral","text":"ok"}'


def bare_aiohttp() -> web.Application:
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(DEFAULT_SIGNING_SECRET)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not verifier.is_valid(body, timestamp, signature):
            return web.json_response({"error": "invalid request"}, status=401)
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    return app


def bare_bolt(fake_url: str, token: str) -> web.Application:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=token, base_url=f"{fake_url}/api/")
    bolt = AsyncApp(client=client, signing_secret=DEFAULT_SIGNING_SECRET)

    @bolt.command("/session")
    async def on_command(ack: Any) -> None:
        await ack()

    async def handle(request: web.Request) -> web.Response:
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    return app


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _serve(kind: str, port: int, fake_url: str, token: str) -> None:
    app = bare_aiohttp() if kind == "aiohttp" else bare_bolt(fake_url, token)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def start_floor(
    kind: str, port: int, fake_url: str, token: str, cpus: frozenset[int] | None
) -> subprocess.Popen[bytes]:
    """Start one floor server (a child process) on `port`."""
    argv = [sys.executable, "-m", "bench.slack_floors", kind, str(port), fake_url, token]
    server = subprocess.Popen(argv, cwd=ROOT)
    if cpus is not None:
        os.sched_setaffinity(server.pid, cpus)
    return server


def main() -> None:
    from bot.loop import run

    kind, port, fake_url, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if kind not in KINDS:
        raise SystemExit(f"unknown floor {kind!r}; one of {', '.join(KINDS)}")
    run(_serve(kind, port, fake_url, token))


if __name__ == "__main__":
    main()
