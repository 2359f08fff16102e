"""At DEBUG, an API flow (token created, webhook added, requests refused) logs no secret."""

from __future__ import annotations

import io
import json

import aiohttp

from bot.api import mount_api
from bot.http import HttpServer
from core.tokens import TokenService
from core.wiring import Services
from tests.bot.logcapture import debug_logs, leaked
from tests.conftest import WS

REFUSED = 20
PER_REFUSAL = 300
MARKER = "api-body-marker"


async def test_api_flow_and_refused_requests_log_no_secret_or_body(
    services: Services, tokens: TokenService
) -> None:
    with debug_logs() as logs:
        _, secret = await tokens.create(WS, name="agent", user_id="agent", admin=True)
        http = HttpServer("127.0.0.1", 0)
        mount_api(http.app, services)
        await http.start()
        base = f"http://127.0.0.1:{http.port}/api/v1"
        auth = {"Authorization": f"Bearer {secret}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as web:
                async with web.post(
                    f"{base}/sessions", json={"title": "T", "channel_id": "general"}, headers=auth
                ) as r:
                    assert r.status == 201, await r.text()
                before = len(logs.getvalue())
                statuses = []
                for n in range(REFUSED):
                    forged = {"Authorization": f"Bearer sbt_{n:016x}_forged{MARKER}"}
                    body = {"title": MARKER}
                    async with web.post(f"{base}/sessions", json=body, headers=forged) as r:
                        statuses.append(r.status)
                huge = io.BytesIO(json.dumps({"title": MARKER, "pad": "x" * 2**20}).encode())
                async with web.post(f"{base}/sessions", data=huge, headers=auth) as r:
                    statuses.append(r.status)
                grown = len(logs.getvalue()) - before
        finally:
            await http.stop()
    text = logs.getvalue()
    assert statuses[:REFUSED] == [401] * REFUSED and statuses[-1] == 413
    assert "HTTP server on" in text  # the capture works
    assert grown <= PER_REFUSAL * len(statuses)
    assert "Traceback" not in text
    assert leaked(text, [secret, MARKER]) == []
