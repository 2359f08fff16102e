"""Build correctly (or deliberately wrongly) signed Slack HTTP requests for tests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, NamedTuple

DEFAULT_SIGNING_SECRET = "test-signing-secret"
DEFAULT_TEAM_ID = "T0001"
DEFAULT_TEAM_DOMAIN = "sessionbot-test"
DEFAULT_APP_ID = "A0001"
DEFAULT_USER_ID = "U0ALICE"
DEFAULT_USER_NAME = "alice"
DEFAULT_CHANNEL_ID = "C0001"
DEFAULT_CHANNEL_NAME = "general"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

_trigger_counter = itertools.count(1)


class SignedRequest(NamedTuple):
    """Raw body bytes plus the headers Slack would send with them."""

    body: bytes
    headers: dict[str, str]


def new_trigger_id() -> str:
    """Return a unique, Slack-looking trigger_id."""
    return f"{next(_trigger_counter)}.4242424242.0123456789abcdef"


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the v0 signature: 'v0=' + hex HMAC-SHA256(secret, 'v0:{ts}:{body}')."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    *,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
    content_type: str = FORM_CONTENT_TYPE,
) -> dict[str, str]:
    """Return Slack request headers signing exactly `body` (timestamp defaults to now)."""
    ts = str(int(time.time())) if timestamp is None else str(int(float(timestamp)))
    return {
        "Content-Type": content_type,
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": compute_signature(secret, ts, body),
    }


def sign_form(
    fields: Mapping[str, str],
    *,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
) -> SignedRequest:
    """URL-encode `fields` once and sign the resulting bytes."""
    body = urllib.parse.urlencode(dict(fields)).encode()
    return SignedRequest(body, signed_headers(body, secret=secret, timestamp=timestamp))


def slash_command_fields(
    text: str = "",
    *,
    response_url: str,
    command: str = "/session",
    user_id: str = DEFAULT_USER_ID,
    user_name: str = DEFAULT_USER_NAME,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
    token: str = "legacy-verification-token",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the form fields of a slash command as Slack sends them."""
    fields = {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    fields.update(extra or {})
    return fields


def slash_command_request(
    text: str = "",
    *,
    response_url: str,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
    **fields: Any,
) -> SignedRequest:
    """Build a signed `/session` slash command; extra kwargs go to `slash_command_fields`."""
    form = slash_command_fields(text, response_url=response_url, **fields)
    return sign_form(form, secret=secret, timestamp=timestamp)


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, Any]:
    """Return the `user` object of an interactive payload."""
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def block_actions_payload(
    action_id: str,
    value: str = "",
    *,
    response_url: str,
    message_ts: str = "1700000000.000100",
    message: Mapping[str, Any] | None = None,
    block_id: str = "plan_actions",
    user_id: str = DEFAULT_USER_ID,
    user_name: str = DEFAULT_USER_NAME,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
    state_values: Mapping[str, Any] | None = None,
    is_ephemeral: bool = False,
) -> dict[str, Any]:
    """Return a `block_actions` payload for a button click on a (non-)ephemeral message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": dict(state_values or {})},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = dict(message or {"type": "message", "ts": message_ts, "text": ""})
    return payload


def view_submission_payload(
    callback_id: str,
    *,
    state_values: Mapping[str, Any] | None = None,
    private_metadata: str = "",
    view_id: str = "V0000000001",
    user_id: str = DEFAULT_USER_ID,
    user_name: str = DEFAULT_USER_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """Return a `view_submission` payload for a modal with the given callback_id."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "enterprise": None,
        "is_enterprise_install": False,
        "response_urls": [],
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "title": {"type": "plain_text", "text": "Session"},
            "blocks": [],
            "state": {"values": dict(state_values or {})},
            "hash": "1700000000.abcdef",
            "app_id": api_app_id,
            "bot_id": "B0BOT",
        },
    }


def interactive_request(
    payload: Mapping[str, Any],
    *,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
) -> SignedRequest:
    """Sign an interactive payload sent as the form field `payload=<JSON>`."""
    return sign_form({"payload": json.dumps(payload)}, secret=secret, timestamp=timestamp)


def block_actions_request(
    action_id: str,
    value: str = "",
    *,
    response_url: str,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
    **fields: Any,
) -> SignedRequest:
    """Build a signed `block_actions` request; extra kwargs go to `block_actions_payload`."""
    payload = block_actions_payload(action_id, value, response_url=response_url, **fields)
    return interactive_request(payload, secret=secret, timestamp=timestamp)


def view_submission_request(
    callback_id: str,
    *,
    secret: str = DEFAULT_SIGNING_SECRET,
    timestamp: int | float | str | None = None,
    **fields: Any,
) -> SignedRequest:
    """Build a signed `view_submission` request; extra kwargs go to `view_submission_payload`."""
    payload = view_submission_payload(callback_id, **fields)
    return interactive_request(payload, secret=secret, timestamp=timestamp)


def app_home_opened_request(
    user_id: str = DEFAULT_USER_ID,
    *,
    tab: str = "home",
    team_id: str = DEFAULT_TEAM_ID,
    secret: str = DEFAULT_SIGNING_SECRET,
) -> SignedRequest:
    """A signed Events API `event_callback` carrying `app_home_opened` for `user_id`."""
    event = {"type": "app_home_opened", "user": user_id, "channel": f"D{user_id}", "tab": tab,
             "event_ts": f"{time.time():.6f}"}  # fmt: skip
    envelope = {"token": "unused", "team_id": team_id, "api_app_id": DEFAULT_APP_ID,
                "type": "event_callback", "event_id": f"Ev{next(_trigger_counter):08d}",
                "event_time": int(time.time()), "event": event}  # fmt: skip
    body = json.dumps(envelope).encode()
    return SignedRequest(body, signed_headers(body, secret=secret, content_type="application/json"))
