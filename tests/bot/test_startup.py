"""`sessionbot serve` start-up as an operator meets it: a refused credential is a one-line
error and a non-zero exit; an unreachable platform is retried while everything else runs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.adapters.slack.harness import BOT_TOKEN
from tests.bot.test_serve import _free_port
from tests.bot.test_shutdown import serving
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_socket import DEFAULT_APP_TOKEN, FakeSocketMode

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 30.0  # a bound on waiting, not an assertion on how fast it is
CHAT_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "DISCORD_TOKEN")


def _env(tmp_path: Path, port: int = 0, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHAT_VARIABLES}
    return env | {
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SESSIONBOT_HTTP_PORT": str(port),
        "SESSIONBOT_LOG_LEVEL": "info",
        **extra,
    }


async def _serve_until_exit(env: dict[str, str]) -> tuple[int, str]:
    """Run `sessionbot serve` until it exits on its own (bounded); its code and stderr."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(bot.communicate(), timeout=EXIT_WITHIN)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert bot.returncode is not None
    return bot.returncode, err.decode()


def _assert_one_line_naming(stderr: str, variable: str) -> None:
    naming = [line for line in stderr.splitlines() if variable in line]
    assert len(naming) == 1, stderr
    assert naming[0].startswith("sessionbot: configuration error:"), stderr
    assert "Traceback" not in stderr


async def test_wrong_discord_token_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    async with FakeDiscord(token="the-right-token") as fake:
        env = _env(
            tmp_path,
            DISCORD_TOKEN="a-wrong-token",
            DISCORD_API_URL=fake.rest_base,
            DISCORD_GATEWAY_URL=fake.gateway_url,
        )
        code, stderr = await _serve_until_exit(env)
    assert code != 0
    _assert_one_line_naming(stderr, "DISCORD_TOKEN")
    assert "a-wrong-token" not in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("sessionbot: configuration error:")


async def test_refused_slack_app_token_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    async with FakeSlackApi() as fake, FakeSocketMode(fake):
        env = _env(
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN="xapp-1-A0001-0000-not-the-apps-token",
            SLACK_API_URL=fake.base_url,
        )
        code, stderr = await _serve_until_exit(env)
    assert code != 0
    _assert_one_line_naming(stderr, "SLACK_APP_TOKEN")
    assert "invalid_auth" in stderr


async def test_refused_slack_bot_token_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    async with FakeSlackApi() as fake, FakeSocketMode(fake):
        fake.invalid_tokens.add(BOT_TOKEN)
        env = _env(
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=DEFAULT_APP_TOKEN,
            SLACK_API_URL=fake.base_url,
        )
        code, stderr = await _serve_until_exit(env)
    assert code != 0
    _assert_one_line_naming(stderr, "SLACK_BOT_TOKEN")


async def _poll(web: aiohttp.ClientSession, url: str, ok: object) -> tuple[int, str]:
    """GET `url` until `ok(status, text)` holds (bounded polling while the process works)."""
    for _ in range(600):
        try:
            async with web.get(url) as response:
                status, text = response.status, await response.text()
            if ok(status, text):  # type: ignore[operator]
                return status, text
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered as expected")


def _sweeps(metrics: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "sessionbot_job_runs_total" and sample.labels == {"job": "sweep"}:
                return sample.value
    return 0.0


def _unreachable(platform: str, nowhere: int) -> dict[str, str]:
    """The settings of `platform` pointing at a port where nothing listens."""
    if platform == "slack":
        return {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": DEFAULT_APP_TOKEN,
            "SLACK_API_URL": f"http://127.0.0.1:{nowhere}/api/",
        }
    return {
        "DISCORD_TOKEN": "a-token",
        "DISCORD_API_URL": f"http://127.0.0.1:{nowhere}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{nowhere}/gw",
    }


@pytest.mark.parametrize("platform", ["slack", "discord"])
async def test_unreachable_platform_is_retried_while_the_rest_runs_and_sigterm_stops_it(
    tmp_path: Path, platform: str
) -> None:
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "token", "create", "--workspace", "api:w", "--name", "agent"),
        cwd=ROOT,
        env=_env(tmp_path, SESSIONBOT_LOG_LEVEL="warning"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(made.communicate(), timeout=EXIT_WITHIN)
    token = out.decode().split()[0]
    port, nowhere = _free_port(), _free_port()  # nothing listens on `nowhere`
    env = _env(tmp_path, port, **_unreachable(platform, nowhere))
    base = f"http://127.0.0.1:{port}"
    async with (
        serving(env, tmp_path / "serve.log") as bot,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as web,
    ):
        _, ready = await _poll(web, f"{base}/readyz", lambda s, t: "retrying" in t)
        headers = {"Authorization": f"Bearer {token}"}
        async with web.post(f"{base}/api/v1/sessions", json={"title": "T"}, headers=headers) as r:
            assert r.status == 201, await r.text()
        await _poll(web, f"{base}/metrics", lambda s, t: _sweeps(t) >= 1)
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.wait(), timeout=EXIT_WITHIN)
    assert code == 0
    assert f'"{platform}": "unavailable' in ready
    assert str(nowhere) not in ready and "127.0.0.1" not in ready  # no host on /readyz
    log = (tmp_path / "serve.log").read_text()
    assert f"{platform} is unavailable" in log and "Traceback" not in log
    assert log.rstrip().endswith("stopped")
