"""The redacting filter: each secret shape is masked in messages, arguments, errors and fields."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator

import pytest

from bot.config import Config
from bot.logs import LIBRARIES, config_secrets, setup_logging
from bot.redaction import MASK, Redactor

WEBHOOK_SECRET = secrets.token_urlsafe(32)
SHAPES = {
    "slack bot token": "xoxb-1234567890-2345678901-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack user token": "xoxp-1234567890-2345678901-3456789012-0123456789abcdef0123456789abcdef",
    "slack app token": "xapp-1-A0001-1234567890123-0123456789abcdef0123456789abcdef",
    "slack rotating token": "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MDEyMy1hYmNkZWY",
    "slack refresh token": "xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MDEyMw",
    "api token": f"sbt_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",
    "webhook secret": WEBHOOK_SECRET,
    "signing secret": secrets.token_hex(16),
    "discord bot token": "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB",
}
URLS = {
    "slack response url": (
        "https://hooks.slack.com/commands/T0001/1234567890/Xy7ZaBcDeFgHiJkL",
        "hooks.slack.com/",
    ),
    "slack incoming webhook": (
        "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstuvwx",
        "hooks.slack.com/",
    ),
    "discord webhook": (
        "https://discord.com/api/webhooks/123456789012345678/aBcD-eFgH_iJkL",
        "discord.com/api/webhooks/123456789012345678/",
    ),
    "discord interaction callback": (
        "https://discord.com/api/v10/interactions/123456789012345678/aW50ZXJhY3Rpb246MTIz/callback",
        "/interactions/123456789012345678/",
    ),
    "discord follow-up": (
        "https://discord.com/api/v10/webhooks/987654321098765432/aW50ZXJhY3Rpb246MTIz/messages/@original",
        "/webhooks/987654321098765432/",
    ),
}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream, secrets=["plain-configured-password"])
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_secret_shape_is_masked_in_text(shape: str) -> None:
    secret = SHAPES[shape]
    masked = Redactor()(f"before {secret} after")
    assert masked == f"before {MASK} after"


@pytest.mark.parametrize("kind", sorted(URLS))
def test_capability_urls_keep_their_host_and_lose_their_secret(kind: str) -> None:
    url, kept = URLS[kind]
    masked = Redactor()(f"posting to {url} now")
    assert kept in masked and MASK in masked
    secret_part = url.split(kept, 1)[1].split("/", 1)[0]
    assert secret_part not in masked


def test_headers_and_query_strings_lose_their_credentials() -> None:
    redact = Redactor()
    assert redact("Authorization: Bearer abc.def-123") == f"Authorization: Bearer {MASK}"
    assert redact("Authorization: Bot abc.def-123") == f"Authorization: Bot {MASK}"
    assert redact("GET /cb?code=12.34&state=x") == f"GET /cb?code={MASK}&state=x"


def test_configured_secrets_are_masked_whatever_their_shape() -> None:
    assert Redactor(["hunter2-hunter2"])("pw is hunter2-hunter2.") == f"pw is {MASK}."


def test_ordinary_words_ids_and_refs_are_kept() -> None:
    text = (
        "session #42 started by U0ALICE in C0001 (id 3f2a1c9e-8b7d-4c6e-9f01-23456789abcd, "
        "ref 7f3a2c, module adapters.slack.adapter, /api/v1/sessions/42/messages)"
    )
    assert Redactor()(text) == text


def test_the_handler_masks_arguments_errors_and_extra_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    token = SHAPES["slack bot token"]
    log.info("token %s and %s", token, "plain-configured-password")
    try:
        raise RuntimeError(f"request failed with {SHAPES['discord bot token']}")
    except RuntimeError:
        log.exception("boom")
    log.warning("field", extra={"url": URLS["discord webhook"][0]})
    text = captured.getvalue()
    assert "RuntimeError: request failed with" in text
    for secret in (token, "plain-configured-password", SHAPES["discord bot token"], "aBcD-eFgH"):
        assert secret not in text
    assert text.count(MASK) >= 3


def test_json_lines_carry_the_masked_error(captured: io.StringIO) -> None:
    setup_logging("DEBUG", "json", stream=captured)
    try:
        raise ValueError(SHAPES["api token"])
    except ValueError:
        logging.getLogger("core.test").exception("failed")
    (entry,) = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert SHAPES["api token"] not in entry["error"] and MASK in entry["error"]


def test_libraries_never_log_below_warning_even_at_debug(captured: io.StringIO) -> None:
    for name in ("slack_bolt", "slack_sdk.web", "discord.http", "aiohttp.access", "app.py:X"):
        library = logging.getLogger(name)
        library.setLevel(logging.DEBUG)  # a library lowering its own level changes nothing
        library.debug("Responding with status: 200 body: secret-body")
        library.info("request body: secret-body")
    logging.getLogger("slack_bolt").warning("a library warning")
    logging.getLogger("core.history.fork").debug("ours at debug")
    text = captured.getvalue()
    assert "secret-body" not in text
    assert "a library warning" in text and "ours at debug" in text


def test_extra_fields_of_any_type_are_masked_in_json_lines(captured: io.StringIO) -> None:
    setup_logging("DEBUG", "json", stream=captured)
    token = SHAPES["api token"]
    logging.getLogger("bot.test").warning(
        "call",
        extra={
            "headers": {"Authorization": f"Bearer {token}"},
            "tokens": [SHAPES["slack bot token"]],
            "raw": SHAPES["discord bot token"].encode(),
        },
    )
    (line,) = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["headers"] == {"Authorization": f"Bearer {MASK}"}
    for secret in (token, SHAPES["slack bot token"], SHAPES["discord bot token"]):
        assert secret not in line


def test_a_bad_format_call_is_logged_not_raised(captured: io.StringIO) -> None:
    logging.getLogger("bot.test").warning("two %s %s", SHAPES["slack bot token"])
    text = captured.getvalue()
    assert "unformattable args" in text and "two %s %s" in text


def test_passwords_in_urls_and_json_values_are_masked() -> None:
    redact = Redactor()
    assert redact("connect postgresql://user:hunter2@db/x failed") == (
        f"connect postgresql://user:{MASK}@db/x failed"
    )
    for key in ("token", "password", "secret", "client_secret", "access_token"):
        assert redact(f'{{"{key}": "s3cr\\"et", "id": 7}}') == f'{{"{key}": "{MASK}", "id": 7}}'
    assert redact("{'password': 'abc'}") == f"{{'password': '{MASK}'}}"


def test_the_database_password_is_a_configured_secret() -> None:
    config = Config(
        database_url="postgresql://bot:long-db-password@db.internal/x", admins=frozenset()
    )
    assert "long-db-password" in config_secrets(config)
    line = Redactor(config_secrets(config))("auth failed for long-db-password")
    assert line == f"auth failed for {MASK}"
