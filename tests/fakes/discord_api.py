"""Local fake of Discord's REST API and websocket gateway, for driving a real discord.py client.

Usage::

    async with FakeDiscord() as fake:
        with fake.patch_discord():
            await client.login("token")
            task = asyncio.create_task(client.connect())
            await fake.wait_until_connected()
            await client.tree.sync(guild=discord.Object(fake.guild.id))
            payload = fake.slash_command_payload(subcommand="start", options={"title": "x"})
            await fake.push_interaction(payload)
            callback = await fake.wait_for_callback(payload)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fnmatch
import hashlib
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gw"
OAUTH_AUTHORIZE = "/oauth2/authorize"
OAUTH_TOKEN = "/api/oauth2/token"
OAUTH_ME = "/api/users/@me"
OAUTH_PATHS = (OAUTH_AUTHORIZE, OAUTH_TOKEN, OAUTH_ME)
DISCORD_EPOCH_MS = 1_420_070_400_000
JSON_CONTENT_TYPE = "application/json"
VIA_HEADER = "1.1 google"

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1
MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_GUILD
BOT_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_THREADS

# Interaction types and interaction callback types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
_UPDATES = (DEFERRED_UPDATE, UPDATE_MESSAGE)
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset({CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE}),
}

GUILD_MEMBERS_INTENT = 1 << 1

# Message flags and channel types.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15
GUILD_TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD, GUILD_FORUM = 0, 1, 11, 12, 15

_ERROR_MESSAGES: dict[int, str] = {
    0: "General error",
    10003: "Unknown Channel",
    10008: "Unknown Message",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
    160004: "A thread has already been created for this message",
}

_snowflake_counter = itertools.count()
_BODY_KEY = web.RequestKey("fake_body", object)
_FILES_KEY = web.RequestKey("fake_files", list)


def new_snowflake() -> int:
    """Return a fresh, time-based, process-unique Discord snowflake."""
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (millis << 22) | (next(_snowflake_counter) & 0x3FFFFF)


def _now_iso() -> str:
    """Return the current UTC time in Discord's ISO 8601 format."""
    return datetime.now(UTC).isoformat()


def _json_response(obj: Any, status: int = 200) -> web.Response:
    """Return a JSON response whose Content-Type is exactly ``application/json``."""
    return web.Response(
        status=status, body=json.dumps(obj).encode(), content_type=JSON_CONTENT_TYPE
    )


def _no_content() -> web.Response:
    """Return 204 without a body (discord.py would fail to JSON-decode an empty body)."""
    return web.Response(status=204)


def _field_error(key: str, code: str, message: str) -> dict[str, Any]:
    """Return one Discord form-body error entry."""
    return {key: {"_errors": [{"code": code, "message": message}]}}


class DiscordApiError(Exception):
    """An error answer in Discord's JSON shape (`{"message", "code", "errors"?}`)."""

    def __init__(
        self, status: int, code: int, message: str | None = None, errors: Any = None
    ) -> None:
        """Build the error; ``message`` defaults to Discord's text for ``code``."""
        self.status, self.code = status, code
        self.message = message or _ERROR_MESSAGES.get(code, f"{status}: error")
        self.errors = errors
        super().__init__(f"{status} {code} {self.message}")

    def body(self) -> dict[str, Any]:
        """Return the JSON error body."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


# --------------------------------------------------------------------------- model


@dataclass
class FakeUser:
    """A Discord user known to the fake."""

    id: int = field(default_factory=new_snowflake)
    username: str = "user"
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """Return the Discord user object."""
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild channel (0 text, 15 forum, ...)."""

    id: int = field(default_factory=new_snowflake)
    name: str = "general"
    type: int = GUILD_TEXT
    position: int = 0

    def to_payload(self, guild_id: int) -> dict[str, Any]:
        """Return the Discord channel object."""
        payload: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if self.type == GUILD_FORUM:
            payload |= {"available_tags": [], "default_reaction_emoji": None}
            payload |= {"default_sort_order": None, "default_forum_layout": 0}
        return payload


def _default_channels() -> list[FakeChannel]:
    """Return a text channel and a forum channel."""
    return [FakeChannel(name="general"), FakeChannel(name="sessions", type=GUILD_FORUM, position=1)]


@dataclass
class FakeGuild:
    """A guild with channels, an Admin role (Manage Server) and members."""

    id: int = field(default_factory=new_snowflake)
    name: str = "Fake Guild"
    channels: list[FakeChannel] = field(default_factory=_default_channels)
    admins: list[FakeUser] = field(default_factory=lambda: [FakeUser(username="alice-admin")])
    members: list[FakeUser] = field(default_factory=lambda: [FakeUser(username="bob")])
    owner: FakeUser = field(default_factory=lambda: FakeUser(username="olga-owner"))
    everyone_permissions: int = MEMBER_PERMISSIONS
    admin_permissions: int = ADMIN_PERMISSIONS
    bot_permissions: int = BOT_PERMISSIONS
    admin_role_id: int = field(default_factory=new_snowflake)
    bot_role_id: int = field(default_factory=new_snowflake)

    @property
    def text_channel(self) -> FakeChannel:
        """The first text channel."""
        return next(c for c in self.channels if c.type == GUILD_TEXT)

    @property
    def forum_channel(self) -> FakeChannel | None:
        """The first forum channel, if any."""
        return next((c for c in self.channels if c.type == GUILD_FORUM), None)

    @property
    def admin(self) -> FakeUser:
        """The first admin (holds the Admin role)."""
        return self.admins[0]

    @property
    def member(self) -> FakeUser:
        """The first plain member."""
        return self.members[0]

    def users(self) -> list[FakeUser]:
        """Return every human user of the guild (owner, admins, members)."""
        return [self.owner, *self.admins, *self.members]

    def find_user(self, user_id: int) -> FakeUser | None:
        """Return the guild user with ``user_id``, if any."""
        return next((u for u in self.users() if u.id == user_id), None)

    def permissions_for(self, user_id: int) -> int:
        """Return the member's resolved permissions (no channel overwrites)."""
        if user_id == self.owner.id:
            return ALL_PERMISSIONS
        is_admin = any(u.id == user_id for u in self.admins)
        return self.everyone_permissions | (self.admin_permissions if is_admin else 0)

    def role_ids_for(self, permissions: int) -> list[int]:
        """Return the role ids that explain ``permissions`` (Admin role iff Manage Server)."""
        return [self.admin_role_id] if permissions & (MANAGE_GUILD | ADMINISTRATOR) else []

    def roles_payload(self) -> list[dict[str, Any]]:
        """Return @everyone, Admin and the bot's managed role."""
        return [
            _role(self.id, "@everyone", self.everyone_permissions, 0),
            _role(self.admin_role_id, "Admin", self.admin_permissions, 1),
            _role(self.bot_role_id, "sessionbot", self.bot_permissions, 2, managed=True),
        ]

    def member_payload(
        self, user: FakeUser, roles: Sequence[int], permissions: int | None = None
    ) -> dict[str, Any]:
        """Return a guild member object, with ``permissions`` as in interactions."""
        payload: dict[str, Any] = {
            "user": user.to_payload(),
            "roles": [str(r) for r in roles],
            "joined_at": _now_iso(),
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload

    def guild_create_payload(self, bot: FakeUser, *, with_members: bool) -> dict[str, Any]:
        """Return GUILD_CREATE; like Discord, other members only with the GUILD_MEMBERS intent."""
        users = self.users() if with_members else []
        members = [self.member_payload(u, self._roles_of(u.id)) for u in users]
        members.append(self.member_payload(bot, [self.bot_role_id]))
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner.id),
            "unavailable": False,
            "joined_at": _now_iso(),
            "large": False,
            "member_count": len(members),
            "roles": self.roles_payload(),
            "channels": [c.to_payload(self.id) for c in self.channels],
            "threads": [],
            "members": members,
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": None,
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _roles_of(self, user_id: int) -> list[int]:
        """Return the configured role ids of ``user_id``."""
        return [self.admin_role_id] if any(u.id == user_id for u in self.admins) else []


def _role(
    role_id: int, name: str, permissions: int, position: int, *, managed: bool = False
) -> dict[str, Any]:
    """Return a Discord role object."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


# --------------------------------------------------------------------------- records


@dataclass
class RecordedFile:
    """One uploaded multipart file."""

    field: str
    filename: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One REST request the fake received, and its answer status."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0

    @property
    def ok(self) -> bool:
        """Whether the fake answered 2xx."""
        return 200 <= self.status < 300


@dataclass
class InteractionState:
    """Server-side state of one interaction (ack, original message, follow-ups)."""

    payload: dict[str, Any]
    issued_at: float
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    acked_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The interaction id."""
        return int(self.payload["id"])

    @property
    def type(self) -> int:
        """The interaction type (2 command, 3 component, 4 autocomplete, 5 modal)."""
        return int(self.payload["type"])

    @property
    def channel_id(self) -> int:
        """The channel the interaction came from."""
        return int(self.payload["channel"]["id"])

    @property
    def component_message_id(self) -> int | None:
        """The id of the message carrying the clicked component, if any."""
        message = self.payload.get("message")
        return int(message["id"]) if message else None


@dataclass
class _Fault:
    """A queued injected answer for requests matching ``pattern``."""

    pattern: str | re.Pattern[str]
    method: str | None
    remaining: int
    respond: Callable[[str], web.Response]


@dataclass
class _GatewaySession:
    """A gateway session (survives reconnects for RESUME)."""

    session_id: str
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class _GatewayConnection:
    """One websocket connection from the client."""

    ws: web.WebSocketResponse
    query: dict[str, str]
    session: _GatewaySession | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Send one uncompressed JSON text frame."""
        async with self.lock:
            await self.ws.send_str(json.dumps(frame))


RequestMatcher = str | re.Pattern[str] | Callable[[RecordedRequest], bool]


def _path_matches(pattern: str | re.Pattern[str], path: str) -> bool:
    """Match a glob (``/channels/*/messages``) or a regex against an API path."""
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(path) is not None
    if pattern.startswith(API_PREFIX):
        pattern = pattern[len(API_PREFIX) :]
    return fnmatch.fnmatchcase(path, pattern)


# --------------------------------------------------------------------------- validation


def _embed_problems(embeds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return form errors for Discord's embed limits."""
    if len(embeds) > 10:
        return _field_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total, errors = 0, dict[str, Any]()
    limits = {"title": 256, "description": 4096}
    for i, embed in enumerate(embeds):
        for key, limit in limits.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                errors |= _field_error(f"embeds.{i}.{key}", "BASE_TYPE_MAX_LENGTH", str(limit))
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors |= _field_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "25")
        for j, fld in enumerate(fields):
            total += len(fld.get("name", "")) + len(fld.get("value", ""))
            if len(fld.get("name", "")) > 256 or len(fld.get("value", "")) > 1024:
                errors |= _field_error(f"embeds.{i}.fields.{j}", "BASE_TYPE_MAX_LENGTH", "1024")
        total += len((embed.get("footer") or {}).get("text", ""))
        total += len((embed.get("author") or {}).get("name", ""))
    if total > 6000:
        errors |= _field_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds 6000")
    return errors


def _component_problems(rows: Sequence[Mapping[str, Any]], flags: int) -> dict[str, Any]:
    """Return form errors for classic action-row limits (Components V2 is not checked)."""
    if flags & IS_COMPONENTS_V2:
        return {}
    if len(rows) > 5:
        return _field_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    errors: dict[str, Any] = {}
    for i, row in enumerate(rows):
        children = row.get("components") or []
        if len(children) > 5:
            errors |= _field_error(f"components.{i}.components", "BASE_TYPE_MAX_LENGTH", "5")
        for j, child in enumerate(children):
            if len(child.get("custom_id") or "") > 100 or len(child.get("label") or "") > 80:
                errors |= _field_error(f"components.{i}.components.{j}", "BASE_TYPE_MAX_LENGTH", "")
    return errors


# Modal limits: title 45, custom_id 100; a text input's label 45, placeholder 100, value and
# max_length 4,000; five inputs.
_MODAL_LIMITS = {"title": 45, "custom_id": 100}
_INPUT_LIMITS = {"label": 45, "placeholder": 100, "value": 4000, "custom_id": 100}


def _modal_problems(data: Mapping[str, Any]) -> dict[str, Any]:
    """Discord's 400 field errors for a modal over its limits (empty when it fits)."""
    for key, limit in _MODAL_LIMITS.items():
        if len(str(data.get(key) or "")) > limit:
            return _field_error(f"data.{key}", "BASE_TYPE_MAX_LENGTH", f"at most {limit}")
    rows = list(data.get("components") or [])
    if len(rows) > 5:
        return _field_error("data.components", "BASE_TYPE_MAX_LENGTH", "at most 5")
    inputs = [c for row in rows for c in (row.get("components") or [row.get("component")]) if c]
    for n, item in enumerate(inputs):
        for key, limit in _INPUT_LIMITS.items():
            if len(str(item.get(key) or "")) > limit:
                where = f"data.components.{n}.{key}"
                return _field_error(where, "BASE_TYPE_MAX_LENGTH", f"at most {limit}")
        if int(item.get("max_length") or 0) > 4000:
            return _field_error(f"data.components.{n}.max_length", "NUMBER_TYPE_MAX", "4000")
    return {}


def _validate_message(body: Mapping[str, Any], *, creating: bool, has_files: bool) -> None:
    """Raise a 400 like Discord for oversized or empty message bodies."""
    content = body.get("content") or ""
    errors: dict[str, Any] = {}
    if len(content) > 2000:
        errors |= _field_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer.")
    errors |= _embed_problems(body.get("embeds") or [])
    errors |= _component_problems(body.get("components") or [], int(body.get("flags") or 0))
    if errors:
        raise DiscordApiError(400, 50035, errors=errors)
    parts = ("embeds", "components", "sticker_ids", "poll", "attachments")
    if creating and not content and not has_files and not any(body.get(k) for k in parts):
        raise DiscordApiError(400, 50006)


def _validate_choices(data: Mapping[str, Any]) -> None:
    """Raise a 400 for more than 25 autocomplete choices or oversized names/values."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise DiscordApiError(
            400, 50035, errors=_field_error("data.choices", "BASE_TYPE_REQUIRED", "")
        )
    if len(choices) > 25:
        errors = _field_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer.")
        raise DiscordApiError(400, 50035, errors=errors)
    for i, choice in enumerate(choices):
        name, value = str(choice.get("name", "")), choice.get("value")
        if not 1 <= len(name) <= 100 or (isinstance(value, str) and len(value) > 100):
            errors = _field_error(f"data.choices.{i}", "BASE_TYPE_BAD_LENGTH", "1-100")
            raise DiscordApiError(400, 50035, errors=errors)


def _option_type(value: Any) -> int:
    """Infer the application-command option type of a Python value."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _options_list(options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[Any]:
    """Turn ``{"title": "x"}`` into option objects; pass lists of option objects through."""
    if options is None:
        return []
    if isinstance(options, Mapping):
        return [{"name": k, "type": _option_type(v), "value": v} for k, v in options.items()]
    return [dict(o) for o in options]


def _nest_subcommand(subcommand: str | None, options: list[Any]) -> list[Any]:
    """Wrap options in a subcommand (``"start"``) or group+subcommand (``"admin kill"``)."""
    if not subcommand:
        return options
    names = subcommand.split()
    nested: list[Any] = [{"type": 1, "name": names[-1], "options": options}]
    for group in reversed(names[:-1]):
        nested = [{"type": 2, "name": group, "options": nested}]
    return nested


# --------------------------------------------------------------------------- the fake


class FakeDiscord:
    """Fake Discord REST API (``/api/v10``) and gateway (``/gw``) on 127.0.0.1."""

    def __init__(
        self,
        *,
        guilds: Sequence[FakeGuild] | None = None,
        bot_name: str = "sessionbot",
        token: str | None = None,
        application_flags: int = 0,
        ack_deadline: float | None = 3.0,
        token_ttl: float = 15 * 60,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        """Configure guilds; ``token`` (if set) is enforced on REST and IDENTIFY."""
        self.bot_user = FakeUser(username=bot_name, bot=True)
        self.application_id = new_snowflake()
        self.owner_user = FakeUser(username="app-owner")
        self.application_flags = application_flags
        self.token = token
        self.ack_deadline = ack_deadline
        self.token_ttl = token_ttl
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.guilds: dict[int, FakeGuild] = {g.id: g for g in (guilds or [FakeGuild()])}
        self.requests: list[RecordedRequest] = []
        self.gateway_frames: list[dict[str, Any]] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.commands: dict[int | None, dict[str, dict[str, Any]]] = {}
        self.interactions: dict[int, InteractionState] = {}
        self._tokens: dict[str, InteractionState] = {}
        self._dm_channels: dict[int, int] = {}
        self._faults: list[_Fault] = []
        self._holds: list[
            tuple[str | re.Pattern[str], str | None, asyncio.Event, asyncio.Event]
        ] = []
        self._sessions: dict[str, _GatewaySession] = {}
        # OAuth2 (Sign in with Discord): the app's credentials, who passes the consent page
        # next, guilds the bot is not in (but users are), codes and the tokens they became.
        self.oauth_client_id = str(new_snowflake())
        self.oauth_client_secret = secrets.token_urlsafe(24)
        self.oauth_user: FakeUser | None = None
        self.other_guilds: list[FakeGuild] = []
        self._oauth_codes: dict[str, tuple[FakeUser, str, str]] = {}
        self._oauth_tokens: dict[str, FakeUser] = {}
        self._connections: set[_GatewayConnection] = set()
        self._active: _GatewayConnection | None = None
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        for guild in self.guilds.values():
            for channel in guild.channels:
                self.channels[channel.id] = channel.to_payload(guild.id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the aiohttp server on 127.0.0.1 with an ephemeral port."""
        self._changed = asyncio.Condition()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(GATEWAY_PATH, self._gateway)
        self._add_rest_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close gateway connections and stop the server."""
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the fake."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the fake."""
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def rest_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The websocket gateway URL (also sent as ``resume_gateway_url``)."""
        return self.base_url.replace("http://", "ws://") + GATEWAY_PATH

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake, then restore."""
        with use_fake_discord(self.rest_base, self.gateway_url):
            yield

    @property
    def guild(self) -> FakeGuild:
        """The first configured guild."""
        return next(iter(self.guilds.values()))

    # ------------------------------------------------------------------ fault injection

    def rate_limit_next(
        self,
        path_pattern: str | re.Pattern[str],
        retry_after: float = 0.5,
        *,
        method: str | None = None,
        count: int = 1,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with a retryable 429."""

        def respond(bucket: str) -> web.Response:
            """Build the 429 with body, Retry-After and X-RateLimit-* headers."""
            body = {"message": "You are being rate limited.", "retry_after": retry_after}
            response = _json_response(body | {"global": is_global, "code": 0}, 429)
            response.headers.update(_rate_limit_headers(bucket, 0, retry_after))
            response.headers["Retry-After"] = str(math.ceil(retry_after))
            response.headers["X-RateLimit-Scope"] = "global" if is_global else "user"
            if is_global:
                response.headers["X-RateLimit-Global"] = "true"
            return response

        self._faults.append(_Fault(path_pattern, _upper(method), count, respond))

    def fail_next(
        self,
        path_pattern: str | re.Pattern[str],
        status: int = 403,
        code: int = 50001,
        message: str | None = None,
        *,
        method: str | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` matching requests with a Discord error body."""
        error = DiscordApiError(status, code, message)

        def respond(bucket: str) -> web.Response:
            """Build the error answer."""
            return _json_response(error.body(), status)

        self._faults.append(_Fault(path_pattern, _upper(method), count, respond))

    def hold_next(
        self, path_pattern: str | re.Pattern[str], *, method: str | None = None
    ) -> tuple[asyncio.Event, asyncio.Event]:
        """Hold the next matching request until released: (reached, release) events."""
        reached, release = asyncio.Event(), asyncio.Event()
        self._holds.append((path_pattern, _upper(method), reached, release))
        return reached, release

    async def _held(self, method: str, path: str) -> None:
        for hold in self._holds:
            pattern, wanted, reached, release = hold
            if wanted in (None, method) and _path_matches(pattern, path):
                self._holds.remove(hold)
                reached.set()
                await release.wait()
                return

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        """Pop one use of the first fault matching the request."""
        for fault in self._faults:
            if fault.method not in (None, method) or not _path_matches(fault.pattern, path):
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return fault
        return None

    # ------------------------------------------------------------------ request log

    def requests_matching(
        self, match: RequestMatcher, *, method: str | None = None, status: int | None = None
    ) -> list[RecordedRequest]:
        """Return recorded requests matching a path glob/regex or a predicate."""
        predicate = _request_predicate(match, _upper(method), status)
        return [r for r in self.requests if predicate(r)]

    async def wait_for(
        self,
        match: RequestMatcher,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - bounded waits are the point of this helper
        *,
        method: str | None = None,
        status: int | None = None,
    ) -> list[RecordedRequest]:
        """Wait (bounded) until ``count`` requests match; return the matches."""
        predicate = _request_predicate(match, _upper(method), status)

        def done() -> bool:
            """Whether enough matching requests arrived."""
            return sum(1 for r in self.requests if predicate(r)) >= count

        await self._wait_until(done, timeout, f"{count}x {match!r} {method or ''}")
        return [r for r in self.requests if predicate(r)]

    async def wait_for_callback(
        self,
        interaction: Mapping[str, Any] | int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """Wait for the first callback POST of ``interaction`` (a payload or an id)."""
        iid = int(interaction["id"]) if isinstance(interaction, Mapping) else interaction
        pattern = f"/interactions/{iid}/*/callback"
        return (await self.wait_for(pattern, timeout=timeout, method="POST"))[0]

    def channel_messages(
        self, channel_id: int, *, include_ephemeral: bool = True
    ) -> list[dict[str, Any]]:
        """Return stored messages of a channel, oldest first."""
        found = [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]
        if not include_ephemeral:
            found = [m for m in found if not int(m["flags"]) & EPHEMERAL]
        return sorted(found, key=lambda m: int(m["id"]))

    async def _wait_until(self, done: Callable[[], bool], seconds: float, what: str) -> None:
        """Wait on the change condition until ``done()``; raise TimeoutError with context."""
        cond = self._require_started()
        try:
            async with asyncio.timeout(seconds), cond:
                await cond.wait_for(done)
        except TimeoutError:
            seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-20:]]
            raise TimeoutError(
                f"timed out after {seconds}s waiting for {what}; seen: {seen}"
            ) from None

    async def _notify(self) -> None:
        """Wake every waiter."""
        cond = self._require_started()
        async with cond:
            cond.notify_all()

    def _require_started(self) -> asyncio.Condition:
        """Return the change condition, or fail if the fake was not started."""
        if self._changed is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._changed

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Record, apply auth and faults, map errors, add Via/rate-limit headers."""
        if request.path == GATEWAY_PATH:
            return await handler(request)  # type: ignore[no-any-return]
        record = await _record(request)
        await self._held(record.method, record.path)
        bucket = _bucket_for(request)
        try:
            fault = self._take_fault(record.method, record.path)
            if fault is not None:
                response: web.StreamResponse = fault.respond(bucket)
            else:
                self._check_auth(request, record.path)
                response = await handler(request)
        except DiscordApiError as err:
            response = _json_response(err.body(), err.status)
        except (KeyError, ValueError, TypeError) as exc:
            # A malformed request: answer 400 (a 500 would make discord.py retry for ~25 s).
            response = _json_response(
                {"message": f"Invalid Form Body: {exc!r}", "code": 50035}, 400
            )
        response.headers["Via"] = VIA_HEADER
        if response.status != 429:
            response.headers.update(_rate_limit_headers(bucket, 49, 1.0))
        record.status = response.status
        self.requests.append(record)
        await self._notify()
        return response

    def _check_auth(self, request: web.Request, path: str) -> None:
        """Require ``Bot <token>`` on bot routes when a token is configured."""
        if self.token is None or path.startswith(("/interactions/", "/webhooks/", *OAUTH_PATHS)):
            return
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordApiError(401, 0, "401: Unauthorized")

    def _add_rest_routes(self, router: web.UrlDispatcher) -> None:
        """Register every REST endpoint under ``/api/v10``."""
        wh = "/webhooks/{app_id}/{token}"
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._post_callback),
            ("POST", wh, self._post_followup),
            ("GET", wh + "/messages/{message_id}", self._get_webhook_message),
            ("PATCH", wh + "/messages/{message_id}", self._patch_webhook_message),
            ("DELETE", wh + "/messages/{message_id}", self._delete_webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/typing", self._post_typing),
            ("POST", "/channels/{channel_id}/messages", self._post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._patch_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("POST", "/channels/{channel_id}/threads", self._post_thread),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._post_msg_thread),
            ("POST", "/users/@me/channels", self._post_dm_channel),
        ]
        for method, path, handler in routes:
            router.add_route(method, API_PREFIX + path, handler)
        router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown_route)
        # OAuth2 for people (not the bot), at Discord's unversioned paths.
        router.add_get(OAUTH_AUTHORIZE, self._oauth_authorize)
        router.add_post(OAUTH_TOKEN, self._oauth_token)
        router.add_get(OAUTH_ME, self._oauth_me)
        router.add_get(OAUTH_ME + "/guilds", self._oauth_guilds)

    async def _unknown_route(self, request: web.Request) -> web.Response:
        """Answer 404 like Discord for endpoints the fake does not implement."""
        raise DiscordApiError(404, 0, "404: Not Found")

    # ------------------------------------------------------------------ OAuth2 for people

    async def _oauth_authorize(self, request: web.Request) -> web.Response:
        """``GET /oauth2/authorize``: ``oauth_user`` consents at once; back to the redirect URI
        with a one-time code and the caller's ``state``."""
        q = request.query
        if q.get("client_id") != self.oauth_client_id or q.get("response_type") != "code":
            raise DiscordApiError(400, 0, "Invalid OAuth2 request")
        if "identify" not in q.get("scope", "").split() or not q.get("redirect_uri"):
            raise DiscordApiError(400, 0, "Invalid OAuth2 request")
        if self.oauth_user is None:
            raise DiscordApiError(400, 0, "no one is signed in to the fake")
        code = secrets.token_urlsafe(20)
        self._oauth_codes[code] = (self.oauth_user, q["redirect_uri"], q["scope"])
        back = yarl.URL(q["redirect_uri"]).update_query(code=code, state=q.get("state", ""))
        return web.Response(status=302, headers={"Location": str(back)})

    async def _oauth_token(self, request: web.Request) -> web.Response:
        """``POST /api/oauth2/token``: a code (once, with its redirect URI) for a Bearer token;
        client credentials in the form (client_secret_post)."""
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (
            self.oauth_client_id,
            self.oauth_client_secret,
        ):
            return _json_response({"error": "invalid_client"}, 401)
        taken = self._oauth_codes.pop(str(form.get("code", "")), None)
        if form.get("grant_type") != "authorization_code" or taken is None:
            return _json_response(
                {"error": "invalid_grant", "error_description": 'Invalid "code" in request.'}, 400
            )
        user, redirect_uri, scope = taken
        if form.get("redirect_uri") != redirect_uri:
            return _json_response(
                {"error": "invalid_grant", "error_description": 'Invalid "redirect_uri"'}, 400
            )
        token = secrets.token_urlsafe(24)
        self._oauth_tokens[token] = user
        return _json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 604800,
             "refresh_token": secrets.token_urlsafe(24), "scope": scope}
        )  # fmt: skip

    def _oauth_bearer(self, request: web.Request) -> FakeUser:
        auth = request.headers.get("Authorization", "")
        user = (
            self._oauth_tokens.get(auth.removeprefix("Bearer ")) if auth[:7] == "Bearer " else None
        )
        if user is None:
            raise DiscordApiError(401, 0, "401: Unauthorized")
        return user

    async def _oauth_me(self, request: web.Request) -> web.Response:
        """``GET /api/users/@me`` with a Bearer token: the person who signed in."""
        return _json_response(self._oauth_bearer(request).to_payload())

    async def _oauth_guilds(self, request: web.Request) -> web.Response:
        """``GET /api/users/@me/guilds``: the partial guilds the person is a member of (the
        bot's and ``other_guilds``)."""
        user = self._oauth_bearer(request)
        found = [
            {"id": str(g.id), "name": g.name, "icon": None, "owner": g.owner.id == user.id,
             "permissions": str(g.permissions_for(user.id)), "features": []}
            for g in [*self.guilds.values(), *self.other_guilds]
            if g.find_user(user.id) is not None
        ]  # fmt: skip
        return _json_response(found)

    # ------------------------------------------------------------------ identity

    async def _get_me(self, request: web.Request) -> web.Response:
        """``GET /users/@me``: the bot user."""
        return _json_response(self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False})

    async def _get_application(self, request: web.Request) -> web.Response:
        """``GET /oauth2/applications/@me``: the application info discord.py needs."""
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.owner_user.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": self.application_flags,
                "bot": self.bot_user.to_payload(),
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        """``GET /gateway``."""
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        """``GET /gateway/bot`` (used by AutoShardedClient)."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    # ------------------------------------------------------------------ commands

    async def _get_commands(self, request: web.Request) -> web.Response:
        """``GET`` global or guild commands."""
        self._check_app(request)
        scope = _optional_int(request.match_info.get("guild_id"))
        return _json_response(list(self.commands.get(scope, {}).values()))

    async def _put_commands(self, request: web.Request) -> web.Response:
        """Bulk-overwrite global or guild commands; echo them with stable ids."""
        self._check_app(request)
        scope = _optional_int(request.match_info.get("guild_id"))
        body = request[_BODY_KEY]
        if not isinstance(body, list):
            raise DiscordApiError(400, 50035, errors=_field_error("_", "LIST_TYPE_CONVERT", ""))
        old = self.commands.get(scope, {})
        self.commands[scope] = {c["name"]: self._command_object(c, scope, old) for c in body}
        return _json_response(list(self.commands[scope].values()))

    def _command_object(
        self, spec: Mapping[str, Any], scope: int | None, old: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return the stored command for ``spec``, keeping its id across syncs."""
        previous = old.get(spec["name"])
        # Discord answers a context-menu command (type 2, 3) with an empty description
        command = {"type": 1, "options": [], "default_member_permissions": None, "nsfw": False}
        command["description"] = ""
        command |= dict(spec)
        command |= {
            "id": previous["id"] if previous else str(new_snowflake()),
            "application_id": str(self.application_id),
            "version": str(new_snowflake()),
        }
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    def _check_app(self, request: web.Request) -> None:
        """404 when the path's application id is not ours."""
        if int(request.match_info["app_id"]) != self.application_id:
            raise DiscordApiError(404, 10002, "Unknown Application")

    def synced_command(self, name: str, guild_id: int | None = None) -> dict[str, Any] | None:
        """Return the synced command ``name`` (guild scope first, then global)."""
        if guild_id is not None and name in self.commands.get(guild_id, {}):
            return self.commands[guild_id][name]
        return self.commands.get(None, {}).get(name)

    # ------------------------------------------------------------------ interaction callbacks

    async def _post_callback(self, request: web.Request) -> web.Response:
        """``POST /interactions/{id}/{token}/callback`` for callback types 4-9."""
        state = self._interaction(int(request.match_info["interaction_id"]))
        if state.payload["token"] != request.match_info["token"]:
            raise DiscordApiError(401, 50027)
        body, files = _body_and_files(request)
        cb_type, data = int(body.get("type", 0)), body.get("data") or {}
        self._check_can_ack(state, cb_type)
        handlers: dict[int, Callable[..., dict[str, Any] | None]] = {
            CHANNEL_MESSAGE: self._cb_message,
            DEFERRED_MESSAGE: self._cb_deferred,
            DEFERRED_UPDATE: self._cb_deferred_update,
            UPDATE_MESSAGE: self._cb_update,
            AUTOCOMPLETE_RESULT: self._cb_autocomplete,
            MODAL: self._cb_modal,
        }
        resource = handlers[cb_type](state, data, files)
        state.callback_type, state.callback_data = cb_type, data
        state.acked_at = _loop_time()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return _no_content()
        return _json_response(self._callback_answer(state, resource))

    def _interaction(self, interaction_id: int) -> InteractionState:
        """Return a known interaction or raise Unknown interaction (10062)."""
        state = self.interactions.get(interaction_id)
        if state is None:
            raise DiscordApiError(404, 10062)
        return state

    def _check_can_ack(self, state: InteractionState, cb_type: int) -> None:
        """Enforce single ack, the ack deadline and callback types valid for the interaction."""
        if state.callback_type is not None:
            raise DiscordApiError(400, 40060)
        if self.ack_deadline is not None and _loop_time() - state.issued_at > self.ack_deadline:
            raise DiscordApiError(404, 10062)
        if cb_type not in _ALLOWED_CALLBACKS.get(state.type, frozenset()):
            errors = _field_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", f"type {cb_type}")
            raise DiscordApiError(400, 50035, errors=errors)
        needs_message = cb_type in _UPDATES
        if needs_message and state.component_message_id is None:
            raise DiscordApiError(400, 50035, errors=_field_error("type", "NO_MESSAGE", ""))

    def _callback_answer(
        self, state: InteractionState, resource: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Return the ``with_response=1`` callback body."""
        message = (resource or {}).get("message")
        flags = int(message["flags"]) if message else 0
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(state.id),
                "type": state.type,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": bool(flags & LOADING),
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            }
        }
        if resource is not None:
            answer["resource"] = resource
        return answer

    def _cb_message(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any]:
        """Type 4: create the response message."""
        _validate_message(data, creating=True, has_files=bool(files))
        msg_type = 20 if state.type == APPLICATION_COMMAND else 0
        message = self._create_message(state.channel_id, data, files, webhook=True, type_=msg_type)
        state.original_message_id = int(message["id"])
        return {"type": CHANNEL_MESSAGE, "message": message}

    def _cb_deferred(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any]:
        """Type 5: create the "thinking" message (flag LOADING)."""
        flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
        body = {"content": "", "flags": flags}
        message = self._create_message(state.channel_id, body, [], webhook=True, type_=20)
        state.original_message_id = int(message["id"])
        return {"type": DEFERRED_MESSAGE, "message": message}

    def _cb_deferred_update(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any]:
        """Type 6: the component's message becomes the original response."""
        state.original_message_id = self._ensure_component_message(state)
        return {"type": DEFERRED_UPDATE}

    def _cb_update(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any]:
        """Type 7: edit the component's message."""
        _validate_message(data, creating=False, has_files=bool(files))
        message_id = self._ensure_component_message(state)
        state.original_message_id = message_id
        return {"type": UPDATE_MESSAGE, "message": self._edit_message(message_id, data, files)}

    def _cb_autocomplete(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> None:
        """Type 8: autocomplete result (at most 25 choices)."""
        _validate_choices(data)

    def _cb_modal(
        self, state: InteractionState, data: dict[str, Any], files: list[RecordedFile]
    ) -> None:
        """Type 9: show a modal (needs custom_id, title and components)."""
        missing = [k for k in ("custom_id", "title", "components") if not data.get(k)]
        if missing:
            errors = _field_error(f"data.{missing[0]}", "BASE_TYPE_REQUIRED", "required")
            raise DiscordApiError(400, 50035, errors=errors)
        problems = _modal_problems(data)
        if problems:
            raise DiscordApiError(400, 50035, errors=problems)

    def _ensure_component_message(self, state: InteractionState) -> int:
        """Store the interaction's component message if the fake has not seen it yet."""
        message = state.payload["message"]
        message_id = int(message["id"])
        self.messages.setdefault(message_id, copy.deepcopy(message))
        return message_id

    # ------------------------------------------------------------------ webhooks (follow-ups)

    async def _post_followup(self, request: web.Request) -> web.Response:
        """``POST /webhooks/{app}/{token}``: follow-up (fills a deferred "thinking" message)."""
        state = self._webhook_interaction(request)
        body, files = _body_and_files(request)
        _validate_message(body, creating=True, has_files=bool(files))
        original = self.messages.get(state.original_message_id or 0)
        if original is not None and int(original["flags"]) & LOADING and not state.followup_ids:
            message = self._edit_message(int(original["id"]), body, files)
        else:
            message = self._create_message(state.channel_id, body, files, webhook=True)
        state.followup_ids.append(int(message["id"]))
        if request.query.get("wait") in ("1", "true", "True"):
            return _json_response(message)
        return _no_content()

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        """``GET /webhooks/{app}/{token}/messages/{id|@original}``."""
        return _json_response(self.messages[self._webhook_message_id(request)])

    async def _patch_webhook_message(self, request: web.Request) -> web.Response:
        """``PATCH /webhooks/{app}/{token}/messages/{id|@original}``."""
        message_id = self._webhook_message_id(request)
        body, files = _body_and_files(request)
        _validate_message(body, creating=False, has_files=bool(files))
        return _json_response(self._edit_message(message_id, body, files))

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        """``DELETE /webhooks/{app}/{token}/messages/{id|@original}``."""
        del self.messages[self._webhook_message_id(request)]
        return _no_content()

    def _webhook_interaction(self, request: web.Request) -> InteractionState:
        """Return the acked, unexpired interaction behind a webhook token."""
        state = self._tokens.get(request.match_info["token"])
        if int(request.match_info["app_id"]) != self.application_id or state is None:
            raise DiscordApiError(404, 10015)
        if state.callback_type not in (CHANNEL_MESSAGE, DEFERRED_MESSAGE, *_UPDATES):
            raise DiscordApiError(404, 10015)  # not acked, or acked without a message
        if _loop_time() - state.issued_at > self.token_ttl:
            raise DiscordApiError(401, 50027)
        return state

    def _webhook_message_id(self, request: web.Request) -> int:
        """Resolve ``@original`` or a follow-up id to a stored message id."""
        state = self._webhook_interaction(request)
        raw = request.match_info["message_id"]
        message_id = state.original_message_id if raw == "@original" else int(raw)
        owned = {state.original_message_id, *state.followup_ids}
        if message_id is None or message_id not in owned or message_id not in self.messages:
            raise DiscordApiError(404, 10008)
        return message_id

    # ------------------------------------------------------------------ channels and messages

    async def _get_channel(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}``."""
        return _json_response(self._channel(int(request.match_info["channel_id"])))

    async def _post_typing(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/typing``."""
        self._channel(int(request.match_info["channel_id"]))
        return _no_content()

    async def _post_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages``."""
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id)
        body, files = _body_and_files(request)
        _validate_message(body, creating=True, has_files=bool(files))
        return _json_response(self._create_message(channel_id, body, files))

    async def _get_message(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages/{mid}``."""
        return _json_response(self._channel_message(request))

    async def _patch_message(self, request: web.Request) -> web.Response:
        """``PATCH /channels/{id}/messages/{mid}`` (only the bot's own messages)."""
        message = self._channel_message(request)
        if message["author"]["id"] != str(self.bot_user.id):
            raise DiscordApiError(403, 50005)
        body, files = _body_and_files(request)
        _validate_message(body, creating=False, has_files=bool(files))
        return _json_response(self._edit_message(int(message["id"]), body, files))

    async def _delete_message(self, request: web.Request) -> web.Response:
        """``DELETE /channels/{id}/messages/{mid}``."""
        del self.messages[int(self._channel_message(request)["id"])]
        return _no_content()

    def _channel(self, channel_id: int) -> dict[str, Any]:
        """Return a known channel or raise Unknown Channel (10003)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordApiError(404, 10003)
        return channel

    def _channel_message(self, request: web.Request) -> dict[str, Any]:
        """Return the stored message addressed by the path, or raise 10003/10008."""
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id)
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or int(message["channel_id"]) != channel_id:
            raise DiscordApiError(404, 10008)
        return message

    def _create_message(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        files: Sequence[RecordedFile],
        *,
        webhook: bool = False,
        type_: int = 0,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Store and return a new message authored by the bot."""
        message: dict[str, Any] = {
            "id": str(message_id or new_snowflake()),
            "channel_id": str(channel_id),
            "type": type_,
            "content": body.get("content") or "",
            "author": self.bot_user.to_payload(),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": _new_attachments(files),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts", False)),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0),
        }
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        if guild_id is not None:
            message["guild_id"] = guild_id
        if webhook:
            message |= {"webhook_id": str(self.application_id)}
            message |= {"application_id": str(self.application_id)}
        self.messages[int(message["id"])] = message
        return message

    def _edit_message(
        self, message_id: int, body: Mapping[str, Any], files: Sequence[RecordedFile]
    ) -> dict[str, Any]:
        """Apply an edit (content/embeds/components/attachments) and return the message."""
        message = self.messages[message_id]
        was_loading = bool(int(message["flags"]) & LOADING)
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                message[key] = empty if body[key] is None else body[key]
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            message["attachments"] = kept + _new_attachments(files)
        message["flags"] = int(message["flags"]) & ~LOADING
        if not was_loading:
            message["edited_timestamp"] = _now_iso()
        return message

    # ------------------------------------------------------------------ threads and DMs

    async def _post_thread(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/threads`` (forum posts carry a starter ``message``)."""
        parent = self._channel(int(request.match_info["channel_id"]))
        body, files = _body_and_files(request)
        if parent["type"] == GUILD_FORUM:
            starter = body.get("message") or {}
            _validate_message(starter, creating=True, has_files=bool(files))
            thread = self._create_thread(parent, body, PUBLIC_THREAD, new_snowflake())
            thread_id = int(thread["id"])
            message = self._create_message(thread_id, starter, files, message_id=thread_id)
            return _json_response(thread | {"message": message})
        thread_type = int(body.get("type") or PRIVATE_THREAD)
        return _json_response(self._create_thread(parent, body, thread_type, new_snowflake()))

    async def _post_msg_thread(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages/{mid}/threads``: thread id equals the message id."""
        message = self._channel_message(request)
        message_id = int(message["id"])
        if message_id in self.channels:
            raise DiscordApiError(400, 160004)
        parent = self._channel(int(request.match_info["channel_id"]))
        return _json_response(
            self._create_thread(parent, _body_and_files(request)[0], PUBLIC_THREAD, message_id)
        )

    def _create_thread(
        self, parent: Mapping[str, Any], body: Mapping[str, Any], type_: int, thread_id: int
    ) -> dict[str, Any]:
        """Store and return a thread channel object."""
        if not body.get("name"):
            raise DiscordApiError(400, 50035, errors=_field_error("name", "BASE_TYPE_REQUIRED", ""))
        now = _now_iso()
        thread = {
            "id": str(thread_id),
            "type": type_,
            "guild_id": parent.get("guild_id"),
            "parent_id": parent["id"],
            "owner_id": str(self.bot_user.id),
            "name": body["name"],
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "flags": 0,
            "applied_tags": body.get("applied_tags") or [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": now,
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
                "create_timestamp": now,
            },
            "member": {"id": str(thread_id), "user_id": str(self.bot_user.id)}
            | {"join_timestamp": now, "flags": 0},
        }
        self.channels[thread_id] = thread
        return thread

    async def _post_dm_channel(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: open (or reuse) a DM channel."""
        body = _body_and_files(request)[0]
        return _json_response(self.dm_channel(self.user(int(body["recipient_id"]))))

    def user(self, user_id: int) -> FakeUser:
        """Return a configured user, or a placeholder user for unknown ids."""
        for guild in self.guilds.values():
            found = guild.find_user(user_id)
            if found is not None:
                return found
        return FakeUser(id=user_id, username=f"user{user_id}")

    def dm_channel(self, user: FakeUser) -> dict[str, Any]:
        """Return the DM channel with ``user``, creating it on first use."""
        channel_id = self._dm_channels.get(user.id)
        if channel_id is None:
            channel_id = self._dm_channels[user.id] = new_snowflake()
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": DM,
                "recipients": [user.to_payload()],
                "last_message_id": None,
                "flags": 0,
            }
        return self.channels[channel_id]

    # ------------------------------------------------------------------ interaction builders

    def slash_command_payload(
        self,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: FakeUser | None = None,
        *,
        command: str = "session",
        subcommand: str | None = None,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        permissions: int | None = None,
        dm: bool = False,
        command_guild_id: int | None = None,
    ) -> dict[str, Any]:
        """Build an APPLICATION_COMMAND interaction (``subcommand`` may be ``"group sub"``)."""
        data = self._command_data(command, guild_id, dm, command_guild_id)
        data["options"] = _nest_subcommand(subcommand, _options_list(options))
        return self._interaction_payload(
            APPLICATION_COMMAND, data, guild_id, channel_id, user, permissions, dm
        )

    def user_message(self, channel_id: int, content: str, author: FakeUser) -> dict[str, Any]:
        """Store a message `author` wrote in a channel (for message commands to act on)."""
        message = self._create_message(channel_id, {"content": content}, [])
        message["author"] = author.to_payload()
        return message

    def message_command_payload(
        self,
        name: str,
        message: Mapping[str, Any],
        *,
        user: FakeUser | None = None,
        permissions: int | None = None,
    ) -> dict[str, Any]:
        """Build a message context-menu command (type 3) on a stored message."""
        data = self._command_data(name, None, False, None)
        data |= {"type": 3, "target_id": str(message["id"])}
        data["resolved"] = {"messages": {str(message["id"]): copy.deepcopy(dict(message))}}
        channel_id = int(message["channel_id"])
        return self._interaction_payload(
            APPLICATION_COMMAND, data, None, channel_id, user, permissions, False
        )

    def autocomplete_payload(
        self,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: FakeUser | None = None,
        *,
        command: str = "session",
        subcommand: str | None = None,
        focused: str = "name",
        value: str = "",
        options: Mapping[str, Any] | None = None,
        permissions: int | None = None,
        dm: bool = False,
        command_guild_id: int | None = None,
    ) -> dict[str, Any]:
        """Build an AUTOCOMPLETE interaction whose ``focused`` option holds ``value``."""
        opts = _options_list(options)
        opts.append({"name": focused, "type": 3, "value": value, "focused": True})
        data = self._command_data(command, guild_id, dm, command_guild_id)
        data["options"] = _nest_subcommand(subcommand, opts)
        return self._interaction_payload(
            AUTOCOMPLETE, data, guild_id, channel_id, user, permissions, dm
        )

    def component_payload(
        self,
        custom_id: str,
        message_id: int | None = None,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: FakeUser | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        permissions: int | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """Build a MESSAGE_COMPONENT click on a stored message (or a synthesized one)."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        stored = self.messages.get(message_id or 0)
        if stored is not None:
            channel_id = int(stored["channel_id"])
        payload = self._interaction_payload(
            MESSAGE_COMPONENT, data, guild_id, channel_id, user, permissions, dm
        )
        synthesized = stored is None
        message = (
            self._synthesized_message(payload, custom_id, message_id) if synthesized else stored
        )
        payload["message"] = copy.deepcopy(message)
        return payload

    def modal_submit_payload(
        self,
        custom_id: str,
        fields: Mapping[str, str],
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user: FakeUser | None = None,
        message_id: int | None = None,
        permissions: int | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """Build a MODAL_SUBMIT with text inputs ``{custom_id: value}``."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        payload = self._interaction_payload(
            MODAL_SUBMIT, data, guild_id, channel_id, user, permissions, dm
        )
        if message_id is not None and message_id in self.messages:
            payload["message"] = copy.deepcopy(self.messages[message_id])
        return payload

    def _command_data(
        self, command: str, guild_id: int | None, dm: bool, command_guild_id: int | None
    ) -> dict[str, Any]:
        """Return command ``data`` (unsynced commands are global unless ``command_guild_id``)."""
        scope = None if dm else (guild_id or self.guild.id)
        synced = self.synced_command(command, scope)
        data: dict[str, Any] = {"name": command, "type": 1}
        data["id"] = synced["id"] if synced else str(new_snowflake())
        owner_guild = command_guild_id or (synced or {}).get("guild_id")
        if owner_guild is not None:
            data["guild_id"] = str(owner_guild)
        return data

    def _interaction_payload(
        self,
        type_: int,
        data: dict[str, Any],
        guild_id: int | None,
        channel_id: int | None,
        user: FakeUser | None,
        permissions: int | None,
        dm: bool,
    ) -> dict[str, Any]:
        """Build and register the common interaction envelope (guild or DM)."""
        payload: dict[str, Any] = {
            "id": str(new_snowflake()),
            "application_id": str(self.application_id),
            "type": type_,
            "token": "fake-interaction-" + secrets.token_urlsafe(24),
            "version": 1,
            "data": data,
            "locale": "en-US",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
        }
        if dm:
            payload |= self._dm_part(user or self.guild.member, channel_id)
        else:
            guild = self.guilds[guild_id or self.guild.id]
            payload |= self._guild_part(guild, channel_id, user or guild.member, permissions)
        self._register(payload)
        return payload

    def _guild_part(
        self, guild: FakeGuild, channel_id: int | None, user: FakeUser, permissions: int | None
    ) -> dict[str, Any]:
        """Return guild_id, member (with permissions string), channel and app permissions."""
        perms = guild.permissions_for(user.id) if permissions is None else permissions
        channel = self._channel(channel_id or guild.text_channel.id)
        return {
            "guild_id": str(guild.id),
            "guild_locale": "en-US",
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "member": guild.member_payload(user, guild.role_ids_for(perms), perms),
            "channel": channel,
            "channel_id": channel["id"],
            "app_permissions": str(guild.everyone_permissions | guild.bot_permissions),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }

    def _dm_part(self, user: FakeUser, channel_id: int | None) -> dict[str, Any]:
        """Return user, DM channel and context for a bot-DM interaction."""
        channel = self._channel(channel_id) if channel_id else self.dm_channel(user)
        return {
            "user": user.to_payload(),
            "channel": channel,
            "channel_id": channel["id"],
            "app_permissions": str(MEMBER_PERMISSIONS),
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
        }

    def _synthesized_message(
        self, payload: Mapping[str, Any], custom_id: str, message_id: int | None
    ) -> dict[str, Any]:
        """Return a bot message carrying one button/select with ``custom_id``."""
        if payload["data"]["component_type"] == 2:
            child = {"type": 2, "style": 1, "label": custom_id[:80], "custom_id": custom_id}
        else:
            child = {"type": payload["data"]["component_type"], "custom_id": custom_id}
            child |= {"options": [], "min_values": 1, "max_values": 1}
        body = {"content": "", "components": [{"type": 1, "components": [child]}]}
        channel_id = int(payload["channel"]["id"])
        return self._create_message(channel_id, body, [], message_id=message_id)

    def _register(self, payload: dict[str, Any]) -> InteractionState:
        """Track an interaction so callbacks and follow-ups can be validated."""
        state = InteractionState(payload=payload, issued_at=_loop_time())
        self.interactions[state.id] = state
        self._tokens[payload["token"]] = state
        return state

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one gateway connection: HELLO, then handle client opcodes."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _GatewayConnection(ws=ws, query=dict(request.query))
        self._connections.add(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            if self._active is conn:
                self._active = None
            await self._notify()
        return ws

    async def _on_frame(self, conn: _GatewayConnection, frame: dict[str, Any]) -> None:
        """Record a client frame and answer heartbeat, IDENTIFY, RESUME, REQUEST_MEMBERS."""
        self.gateway_frames.append(frame)
        op = frame.get("op")
        raw = frame.get("d")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if op == 1:
            await conn.send({"op": 11})
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        elif op == 8:
            await self._request_members(conn, data)
        await self._notify()

    async def _identify(self, conn: _GatewayConnection, data: Mapping[str, Any]) -> None:
        """Answer IDENTIFY with READY (unavailable guilds) then one GUILD_CREATE per guild."""
        if self.token is not None and data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _GatewaySession(session_id=secrets.token_hex(16))
        self._sessions[session.session_id] = session
        conn.session = session
        await self._send_dispatch(conn, "READY", self._ready_payload(session))
        with_members = bool(int(data.get("intents") or 0) & GUILD_MEMBERS_INTENT)
        for guild in self.guilds.values():
            payload = guild.guild_create_payload(self.bot_user, with_members=with_members)
            await self._send_dispatch(conn, "GUILD_CREATE", payload)
        self._active = conn

    def _ready_payload(self, session: _GatewaySession) -> dict[str, Any]:
        """Return the READY payload."""
        return {
            "v": 10,
            "user": self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
        }

    async def _resume(self, conn: _GatewayConnection, data: Mapping[str, Any]) -> None:
        """Replay missed dispatches and send RESUMED, or INVALID_SESSION for unknown sessions."""
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or (self.token is not None and data.get("token") != self.token):
            await conn.send({"op": 9, "d": False})
            return
        conn.session = session
        last_seq = int(data.get("seq") or 0)
        for frame in [f for f in session.sent if f["s"] > last_seq]:
            await conn.send(frame)
        await self._send_dispatch(conn, "RESUMED", {})
        self._active = conn

    async def _request_members(self, conn: _GatewayConnection, data: Mapping[str, Any]) -> None:
        """Answer REQUEST_GUILD_MEMBERS with one GUILD_MEMBERS_CHUNK."""
        guild = self.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        query = str(data.get("query") or "")
        wanted = {int(u) for u in data.get("user_ids") or []}
        users = [u for u in guild.users() if u.username.startswith(query)]
        if wanted:
            users = [u for u in guild.users() if u.id in wanted]
        members = [guild.member_payload(u, guild._roles_of(u.id)) for u in users]
        chunk = {"guild_id": str(guild.id), "members": members, "chunk_index": 0}
        chunk |= {"chunk_count": 1, "nonce": data.get("nonce")}
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(
        self, conn: _GatewayConnection, event: str, data: Mapping[str, Any]
    ) -> None:
        """Send an op-0 dispatch with the session's next sequence number."""
        session = conn.session
        if session is None:
            raise RuntimeError("gateway connection has not identified")
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        await conn.send(frame)

    async def wait_until_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (bounded) until a client has identified or resumed on the gateway."""
        await self._wait_until(lambda: self._active is not None, timeout, "a gateway session")

    async def wait_for_gateway_op(
        self,
        op: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait (bounded) until the client sent ``count`` frames with opcode ``op``."""

        def frames() -> list[dict[str, Any]]:
            """Frames with the wanted opcode."""
            return [f for f in self.gateway_frames if f.get("op") == op]

        await self._wait_until(lambda: len(frames()) >= count, timeout, f"{count}x gateway op {op}")
        return frames()

    async def dispatch(
        self,
        event: str,
        data: Mapping[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Send any dispatch event to the connected client."""
        await self.wait_until_connected(timeout)
        assert self._active is not None
        await self._send_dispatch(self._active, event, data)

    async def push_interaction(
        self,
        payload: dict[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Send INTERACTION_CREATE; the 3 s ack deadline starts now. Returns ``payload``."""
        state = self.interactions.get(int(payload["id"])) or self._register(payload)
        await self.wait_until_connected(timeout)
        state.issued_at = _loop_time()
        await self.dispatch("INTERACTION_CREATE", payload, timeout)
        return payload

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py reconnects to resume_gateway_url and RESUMEs."""
        if self._active is not None:
            conn, self._active = self._active, None
            await conn.send({"op": 7, "d": None})


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def use_fake_discord(rest_base: str, gateway_url: str) -> Iterator[None]:
    """Set ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``; restore them on exit."""
    import discord.gateway
    import discord.http

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = rest_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def _loop_time() -> float:
    """Return the running loop's monotonic clock."""
    return asyncio.get_running_loop().time()


def _upper(method: str | None) -> str | None:
    """Upper-case an optional HTTP method."""
    return method.upper() if method else None


def _optional_int(value: str | None) -> int | None:
    """Parse an optional snowflake."""
    return int(value) if value is not None else None


def _request_predicate(
    match: RequestMatcher, method: str | None, status: int | None
) -> Callable[[RecordedRequest], bool]:
    """Combine a path glob/regex or predicate with optional method and status filters."""

    def predicate(record: RecordedRequest) -> bool:
        """Whether ``record`` matches."""
        if method is not None and record.method != method:
            return False
        if status is not None and record.status != status:
            return False
        if callable(match) and not isinstance(match, re.Pattern):
            return bool(match(record))
        return _path_matches(match, record.path)

    return predicate


def _rate_limit_headers(bucket: str, remaining: int, reset_after: float) -> dict[str, str]:
    """Return X-RateLimit-* headers for a bucket."""
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
    }


def _bucket_for(request: web.Request) -> str:
    """Return a stable bucket hash per method and route template."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:16]


def _new_attachments(files: Sequence[RecordedFile]) -> list[dict[str, Any]]:
    """Return attachment objects for uploaded files."""
    attachments = []
    for upload in files:
        attachment_id = new_snowflake()
        name = upload.filename or upload.field
        url = f"https://cdn.example.invalid/attachments/{attachment_id}/{name}"
        attachments.append(
            {"id": str(attachment_id), "filename": name, "size": len(upload.data)}
            | {"url": url, "proxy_url": url}
        )
    return attachments


def _body_and_files(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """Return the parsed body (``{}`` when empty) and uploaded files of a request."""
    return request[_BODY_KEY] or {}, request[_FILES_KEY]


async def _record(request: web.Request) -> RecordedRequest:
    """Parse the body (JSON, or multipart with ``payload_json``) and build a record."""
    path = request.path.removeprefix(API_PREFIX)
    body: Any = None
    files: list[RecordedFile] = []
    if request.content_type.startswith("multipart/"):
        body, files = await _read_multipart(request)
    elif request.can_read_body:
        raw = await request.read()
        body = _decode_json(raw)
    request[_BODY_KEY], request[_FILES_KEY] = body, files
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    return RecordedRequest(request.method, path, dict(request.query), body, headers, files)


async def _read_multipart(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """Return the decoded ``payload_json`` part and the file parts."""
    reader = await request.multipart()
    body: Any = None
    files: list[RecordedFile] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # nested multipart: Discord does not use it
        data = await part.read()
        if part.name == "payload_json":
            body = _decode_json(data)
        else:
            files.append(RecordedFile(part.name or "", part.filename, bytes(data)))
    return body, files


def _decode_json(raw: bytes) -> Any:
    """Decode JSON, falling back to text for non-JSON bodies."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
