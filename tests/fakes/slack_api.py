"""A local fake of Slack's Web API and response_url endpoints, served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes import block_kit

JsonDict = dict[str, Any]
MethodHandler = Callable[[JsonDict], JsonDict | Awaitable[JsonDict]]

DEFAULT_SCOPES = ("commands", "chat:write", "im:write", "users:read")
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_TS_BASE_MICROS = 1_700_000_000_000_100
_TS_STEP_MICROS = 100


class FakeSlackTimeoutError(AssertionError):
    """Raised when `wait_for` does not see the expected calls in time."""


@dataclass(frozen=True)
class Call:
    """One recorded Web API request and what the fake answered."""

    method: str
    params: JsonDict
    headers: dict[str, str]
    http_method: str
    status: int
    response: JsonDict

    @property
    def ok(self) -> bool:
        """True when the fake answered HTTP 200 with ok=true."""
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def token(self) -> str | None:
        """The token sent as `Authorization: Bearer ...` or as a `token` param."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        token = self.params.get("token")
        return str(token) if token is not None else None


@dataclass(frozen=True)
class ResponseCall:
    """One JSON body POSTed to a fake response_url."""

    response_id: str
    body: JsonDict
    headers: dict[str, str]

    @property
    def text(self) -> str | None:
        """The `text` of the response body."""
        return self.body.get("text")

    @property
    def response_type(self) -> str | None:
        """`ephemeral`, `in_channel` or None (Slack's default is ephemeral)."""
        return self.body.get("response_type")


@dataclass
class Message:
    """A message stored by chat.postMessage / chat.postEphemeral, updated by chat.update."""

    channel: str
    ts: str
    text: str | None
    blocks: list[Any] | None
    thread_ts: str | None = None
    user: str | None = None
    ephemeral: bool = False
    params: JsonDict = field(default_factory=dict)
    edits: list[JsonDict] = field(default_factory=list)

    def as_api(self, bot_id: str, bot_user_id: str) -> JsonDict:
        """Render the message the way the Web API returns it."""
        msg: JsonDict = {"type": "message", "ts": self.ts, "bot_id": bot_id, "user": bot_user_id}
        msg["text"] = self.text or ""
        if self.blocks is not None:
            msg["blocks"] = self.blocks
        if self.thread_ts is not None:
            msg["thread_ts"] = self.thread_ts
        return msg


@dataclass(frozen=True)
class OpenedView:
    """A modal opened via views.open."""

    view_id: str
    trigger_id: str
    view: JsonDict


@dataclass
class FakeUser:
    """A workspace member as returned by users.info."""

    id: str
    name: str
    is_admin: bool = False
    is_owner: bool = False
    tz: str = "UTC"
    tz_offset: int = 0
    extra: JsonDict = field(default_factory=dict)

    def as_api(self, team_id: str) -> JsonDict:
        """Render the user the way users.info returns it."""
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.name,
            "deleted": False,
            "is_bot": False,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "tz": self.tz,
            "tz_offset": self.tz_offset,
            "profile": {"display_name": self.name, "real_name": self.name},
            **self.extra,
        }


@dataclass(frozen=True)
class FakeTeam:
    """A workspace the app can be installed in through the fake OAuth flow."""

    id: str
    name: str
    installer_id: str = "U0INSTALLER"
    enterprise_id: str | None = None

    @property
    def bot_token(self) -> str:
        return f"xoxb-{self.id}"

    @property
    def bot_user_id(self) -> str:
        return f"U0BOT{self.id}"

    @property
    def bot_id(self) -> str:
        return f"B0BOT{self.id}"


@dataclass(frozen=True)
class _Fault:
    """A queued injected failure for one call."""

    error: str | None = None
    retry_after: int | None = None


@dataclass
class _Waiter:
    """An Event that is set once its predicate holds."""

    predicate: Callable[[], bool]
    event: asyncio.Event = field(default_factory=asyncio.Event)


def dm_channel_id(user_id: str) -> str:
    """Return the fake DM channel id for a user ("D" + user id)."""
    return "D" + user_id


class FakeSlackApi:
    """Fake Slack Web API (`/api/<method>`) plus response_url endpoints (`/response/<id>`)."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team: str = "sessionbot-test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        host: str = "127.0.0.1",
    ) -> None:
        """Configure the workspace identity; call `start()` (or `async with`) to serve."""
        self.team_id = team_id
        self.team = team
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.scopes = list(scopes)
        self.host = host
        self.invalid_tokens: set[str] = set()
        self.calls: list[Call] = []
        self.responses: list[ResponseCall] = []
        self.messages: list[Message] = []
        self.ephemerals: list[Message] = []
        self.views: list[OpenedView] = []
        self.homes: dict[str, list[JsonDict]] = {}  # views.publish: every Home view, per user
        self.users: dict[str, FakeUser] = {}
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.teams: dict[str, FakeTeam] = {}  # by bot token: what auth.test answers for it
        # apps.connections.open (Socket Mode): token -> answer; set by FakeSocketMode.
        self.connections_open: Callable[[str], JsonDict] | None = None
        self._oauth_codes: dict[str, FakeTeam] = {}
        # Sign in with Slack: who consents at the authorize page, and the codes and tokens given.
        self.openid_user: tuple[str, str] | None = None  # (team id, user id)
        self._openid_codes: dict[str, tuple[str, str, str, str]] = {}
        self._openid_tokens: dict[str, tuple[str, str]] = {}
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._waiters: list[_Waiter] = []
        self._ts_counter = itertools.count(_TS_BASE_MICROS, _TS_STEP_MICROS)
        self._id_counter = itertools.count(1)
        self._handlers: dict[str, MethodHandler] = self._builtin_handlers()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        """Start serving on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/openid/connect/authorize", self._openid_authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop the server and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def root_url(self) -> str:
        """Base URL of the server, without trailing slash."""
        if self._port is None:
            raise RuntimeError("FakeSlackApi is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """Web API base URL for `AsyncWebClient(base_url=...)`; ends in `/api/`."""
        return f"{self.root_url}/api/"

    def response_url(self, response_id: str | None = None) -> str:
        """Return a response_url served by this fake (unique id if none is given)."""
        rid = response_id or f"R{next(self._id_counter):06d}"
        return f"{self.root_url}/response/{rid}"

    # ------------------------------------------------------------ configuration

    def set_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "UTC",
        tz_offset: int = 0,
        **extra: Any,
    ) -> FakeUser:
        """Define what users.info returns for `user_id`."""
        user = FakeUser(user_id, name or user_id.lower(), is_admin, is_owner, tz, tz_offset, extra)
        self.users[user_id] = user
        return user

    def set_handler(self, method: str, handler: MethodHandler) -> None:
        """Override or add a Web API method: handler(params) -> JSON response dict."""
        self._handlers[method] = handler

    def grant_code(
        self,
        code: str,
        team_id: str,
        *,
        name: str | None = None,
        installer_id: str = "U0INSTALLER",
        enterprise_id: str | None = None,
    ) -> FakeTeam:
        """Make `code` a one-use OAuth code that installs the app in `team_id`."""
        team = FakeTeam(team_id, name or team_id.lower(), installer_id, enterprise_id)
        self._oauth_codes[code] = team
        return team

    def fail_next(self, method: str, error: str = "not_in_channel", *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 `{"ok": false, "error": ...}`."""
        self._faults[method].extend(_Fault(error=error) for _ in range(times))

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        self._faults[method].extend(_Fault(retry_after=retry_after) for _ in range(times))

    def reset(self) -> None:
        """Forget recorded calls, messages, responses, views and pending faults."""
        self.calls.clear()
        self.responses.clear()
        self.messages.clear()
        self.ephemerals.clear()
        self.views.clear()
        self.homes.clear()
        self._faults.clear()

    # ------------------------------------------------------------------ queries

    def calls_to(self, method: str, *, ok_only: bool = False) -> list[Call]:
        """Recorded calls of one method, oldest first (optionally only successful ones)."""
        return [c for c in self.calls if c.method == method and (c.ok or not ok_only)]

    def last_call(self, method: str) -> Call:
        """The most recent call of `method` (AssertionError if there was none)."""
        calls = self.calls_to(method)
        assert calls, f"no {method} call recorded; saw {[c.method for c in self.calls]}"
        return calls[-1]

    def responses_to(self, response_id: str) -> list[ResponseCall]:
        """Bodies POSTed to one response_url id."""
        return [r for r in self.responses if r.response_id == response_id]

    def find_message(self, channel: str, ts: str) -> Message | None:
        """The stored (non-ephemeral) message with this channel and ts."""
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded default is the point of the helper
        *,
        ok_only: bool = False,
    ) -> list[Call]:
        """Wait until at least `count` calls of `method` were recorded; return them."""
        await self.wait_until(
            lambda: len(self.calls_to(method, ok_only=ok_only)) >= count,
            timeout,
            f"{count} x {method}{' (ok)' if ok_only else ''}",
        )
        return self.calls_to(method, ok_only=ok_only)

    async def wait_for_responses(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ResponseCall]:
        """Wait until at least `count` response_url posts were recorded; return them."""
        await self.wait_until(
            lambda: len(self.responses) >= count, timeout, f"{count} response_url posts"
        )
        return list(self.responses)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        """Wait (event-driven, bounded) until `predicate()` holds after some recorded request."""
        waiter = _Waiter(predicate)
        if predicate():
            return
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.event.wait()
        except TimeoutError:
            seen = [f"{c.method}:{c.status}" for c in self.calls]
            msg = f"timed out after {timeout}s waiting for {what}; calls: {seen}; "
            raise FakeSlackTimeoutError(msg + f"responses: {len(self.responses)}") from None
        finally:
            self._waiters.remove(waiter)

    def _notify(self) -> None:
        """Wake every waiter whose predicate now holds."""
        for waiter in self._waiters:
            if waiter.predicate():
                waiter.event.set()

    # ----------------------------------------------------------------- handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        """Serve one Web API call: faults, auth, method handler, recording."""
        method = request.match_info["method"]
        params = await _read_params(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, payload, extra_headers = await self._answer(method, params, headers)
        self._record(Call(method, params, headers, request.method, status, payload))
        return web.json_response(payload, status=status, headers=extra_headers)

    async def _answer(
        self, method: str, params: JsonDict, headers: dict[str, str]
    ) -> tuple[int, JsonDict, dict[str, str]]:
        """Compute (status, JSON body, extra headers) for one call."""
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            if fault.retry_after is not None:
                body = {"ok": False, "error": "ratelimited"}
                return 429, body, {"Retry-After": str(fault.retry_after)}
            return 200, {"ok": False, "error": fault.error}, {}
        if method == "oauth.v2.access":  # authenticated by the app's id and secret, not a token
            return 200, self._oauth_v2_access(params, headers), {}
        if method == "openid.connect.token":  # likewise
            return 200, self._openid_token(params, headers), {}
        token = _token_of(headers, params)
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "openid.connect.userInfo":
            found = self._openid_tokens.get(token)
            if found is None:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "sub": found[1], "https://slack.com/team_id": found[0],
                         "https://slack.com/user_id": found[1]}, {}  # fmt: skip
        if token in self.invalid_tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method == "apps.connections.open":
            return 200, self._apps_connections_open(token), {}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        result = self._auth_test(params, token) if handler == self._auth_test else handler(params)
        payload = await result if isinstance(result, Awaitable) else result
        extra = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else {}
        return 200, payload, extra

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """Record a JSON body POSTed to a response_url; answer like Slack (text/plain ok)."""
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.responses.append(ResponseCall(request.match_info["response_id"], body, headers))
        self._notify()
        return web.Response(text="ok", content_type="text/plain")

    def _record(self, call: Call) -> None:
        """Store a call and wake waiters."""
        self.calls.append(call)
        self._notify()

    def _builtin_handlers(self) -> dict[str, MethodHandler]:
        """Map Web API method names to the built-in handlers."""
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
        }

    def _next_ts(self) -> str:
        """Return a unique, monotonically increasing message ts."""
        micros = next(self._ts_counter)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _auth_test(self, params: JsonDict, token: str | None = None) -> JsonDict:
        """auth.test: identity of the bot token (an OAuth-installed team's, else the default)."""
        team = self.teams.get(token or "")
        if team is not None:
            return {
                "ok": True,
                "url": f"https://{team.name}.slack.com/",
                "team": team.name,
                "user": "sessionbot",
                "team_id": team.id,
                "user_id": team.bot_user_id,
                "bot_id": team.bot_id,
                "enterprise_id": team.enterprise_id,
                "is_enterprise_install": False,
            }
        return {
            "ok": True,
            "url": f"https://{self.team}.slack.com/",
            "team": self.team,
            "user": "sessionbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, token: str) -> JsonDict:
        """apps.connections.open: a Socket Mode URL for an app-level token, if a server runs."""
        if self.connections_open is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return self.connections_open(token)

    def _oauth_v2_access(self, params: JsonDict, headers: Mapping[str, str]) -> JsonDict:
        """oauth.v2.access: trade a granted code (once) for the team's bot token."""
        client_id, client_secret = _client_credentials(headers, params)
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        team = self._oauth_codes.pop(str(params.get("code") or ""), None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        self.teams[team.bot_token] = team
        enterprise = {"id": team.enterprise_id, "name": "org"} if team.enterprise_id else None
        return {
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": team.installer_id},
            "scope": ",".join(self.scopes),
            "token_type": "bot",
            "access_token": team.bot_token,
            "bot_user_id": team.bot_user_id,
            "team": {"id": team.id, "name": team.name},
            "enterprise": enterprise,
            "is_enterprise_install": False,
        }

    async def _openid_authorize(self, request: web.Request) -> web.Response:
        """Slack's consent page: `openid_user` consents at once; back to redirect_uri with a
        one-use code (remembering the nonce and redirect_uri it was given for)."""
        q = request.query
        if q.get("client_id") != self.client_id or self.openid_user is None:
            return web.Response(status=400, text="invalid_client_id or nobody signed in")
        code = f"oidc-{next(self._id_counter)}"
        team_id, user_id = self.openid_user
        self._openid_codes[code] = (team_id, user_id, q.get("nonce", ""), q["redirect_uri"])
        back = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return web.Response(status=302, headers={"Location": back})

    def _openid_token(self, params: JsonDict, headers: Mapping[str, str]) -> JsonDict:
        """openid.connect.token: trade a code (once, for its redirect_uri) for a user token
        and an id token carrying the authorize request's nonce."""
        if _client_credentials(headers, params) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        granted = self._openid_codes.pop(str(params.get("code") or ""), None)
        if granted is None or granted[3] != params.get("redirect_uri"):
            return {"ok": False, "error": "invalid_code"}
        team_id, user_id, nonce, _ = granted
        token = f"xoxp-oidc-{next(self._id_counter)}"
        self._openid_tokens[token] = (team_id, user_id)
        claims = {"sub": user_id, "nonce": nonce, "https://slack.com/team_id": team_id}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return {"ok": True, "access_token": token, "token_type": "Bearer",
                "id_token": f"eyJhbGciOiJSUzI1NiJ9.{payload}.fake-signature"}  # fmt: skip

    def _chat_post_message(self, params: JsonDict) -> JsonDict:
        """chat.postMessage: store the message and return its ts."""
        error = _check_message_args(params) or _check_blocks(params.get("blocks"))
        if error:
            return {"ok": False, "error": error}
        channel = _resolve_channel(str(params["channel"]))
        msg = Message(
            channel=channel,
            ts=self._next_ts(),
            text=params.get("text"),
            blocks=params.get("blocks"),
            thread_ts=params.get("thread_ts"),
            params=params,
        )
        self.messages.append(msg)
        api_msg = msg.as_api(self.bot_id, self.bot_user_id)
        return {"ok": True, "channel": channel, "ts": msg.ts, "message": api_msg}

    def _chat_update(self, params: JsonDict) -> JsonDict:
        """chat.update: change text/blocks of a stored message."""
        if not params.get("channel") or not params.get("ts"):
            return {"ok": False, "error": "invalid_arguments"}
        msg = self.find_message(str(params["channel"]), str(params["ts"]))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if _check_blocks(params.get("blocks")):
            return {"ok": False, "error": "invalid_blocks"}
        if "text" in params:
            msg.text = params["text"]
        if "blocks" in params:
            msg.blocks = params["blocks"]
        msg.edits.append(params)
        api_msg = msg.as_api(self.bot_id, self.bot_user_id)
        text = msg.text or ""
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": text, "message": api_msg}

    def _chat_post_ephemeral(self, params: JsonDict) -> JsonDict:
        """chat.postEphemeral: store an only-visible-to-user message."""
        error = _check_message_args(params) or ("" if params.get("user") else "user_not_found")
        if error:
            return {"ok": False, "error": error}
        msg = Message(
            channel=str(params["channel"]),
            ts=self._next_ts(),
            text=params.get("text"),
            blocks=params.get("blocks"),
            thread_ts=params.get("thread_ts"),
            user=str(params["user"]),
            ephemeral=True,
            params=params,
        )
        self.ephemerals.append(msg)
        return {"ok": True, "message_ts": msg.ts}

    def _views_open(self, params: JsonDict) -> JsonDict:
        """views.open: record the modal and return it with a fresh view id."""
        view = params.get("view")
        if not params.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if _check_blocks(view.get("blocks")):
            return {"ok": False, "error": "invalid_blocks"}
        view_id = f"V{next(self._id_counter):010d}"
        self.views.append(OpenedView(view_id, str(params["trigger_id"]), view))
        full = {**view, "id": view_id, "team_id": self.team_id, "state": {"values": {}}}
        return {"ok": True, "view": {**full, "hash": f"{self._next_ts()}.fake"}}

    def _views_publish(self, params: JsonDict) -> JsonDict:
        """views.publish: record the user's Home view (the latest one is what they see)."""
        view, user_id = params.get("view"), str(params.get("user_id") or "")
        if not user_id or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if _check_blocks(view.get("blocks"), limit=block_kit.HOME_BLOCKS):
            return {"ok": False, "error": "invalid_blocks"}
        self.homes.setdefault(user_id, []).append(view)
        return {"ok": True, "view": {**view, "id": f"V{next(self._id_counter):010d}"}}

    def _conversations_open(self, params: JsonDict) -> JsonDict:
        """conversations.open: a DM channel "D" + user for a single user."""
        if params.get("channel"):
            return {"ok": True, "channel": {"id": str(params["channel"])}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        channel_id = dm_channel_id(users[0]) if len(users) == 1 else "G" + "".join(users)
        return {"ok": True, "channel": {"id": channel_id}}

    def _users_info(self, params: JsonDict) -> JsonDict:
        """users.info: configured user, or a default non-admin user."""
        user_id = params.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        user = self.users.get(str(user_id)) or FakeUser(str(user_id), str(user_id).lower())
        return {"ok": True, "user": user.as_api(self.team_id)}


async def _read_params(request: web.Request) -> JsonDict:
    """Merge query string and body (JSON, form or multipart) into one params dict."""
    params: JsonDict = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        params.update(json.loads(raw) if raw else {})
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: _form_value(v) for k, v in form.items()})
    return {k: _maybe_json(k, v) for k, v in params.items()}


def _form_value(value: Any) -> Any:
    """Keep form strings; reduce uploaded files to their filename."""
    return value if isinstance(value, str) else getattr(value, "filename", "")


def _maybe_json(key: str, value: Any) -> Any:
    """Decode JSON-in-a-string fields (blocks, view, ...) sent form-encoded."""
    if key in _JSON_FIELDS and isinstance(value, str) and value[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _token_of(headers: Mapping[str, str], params: JsonDict) -> str | None:
    """Extract the token from the Authorization header or a `token` param."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:] or None
    token = params.get("token")
    return str(token) if token else None


def _client_credentials(headers: Mapping[str, str], params: JsonDict) -> tuple[str, str]:
    """The app's client id and secret from HTTP Basic auth or from the form."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        return client_id, client_secret
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")


def _check_message_args(params: JsonDict) -> str:
    """Return Slack's error code for a message without channel or content, else ''."""
    if not params.get("channel"):
        return "channel_not_found"
    if not (params.get("text") or params.get("blocks") or params.get("attachments")):
        return "no_text"
    return ""


def _check_blocks(blocks: Any, *, limit: int = block_kit.MESSAGE_BLOCKS) -> str:
    """ "invalid_blocks" when `blocks` break a Block Kit limit (as Slack answers), else ''."""
    return "invalid_blocks" if block_kit.problems(blocks, limit=limit) else ""


def _resolve_channel(channel: str) -> str:
    """Posting to a user id lands in that user's DM channel, as on real Slack."""
    return dm_channel_id(channel) if channel[:1] in ("U", "W") else channel
