"""The Slack adapter (§7): a Bolt `AsyncApp` served over HTTP or Socket Mode, plus delivery."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.delivery import PLATFORM, InviteHints, SlackDelivery
from adapters.slack.directory import AdminDirectory
from adapters.slack.handlers import SlackHandlers
from adapters.slack.installations import STATE_TTL, SlackInstallationStore, SlackOAuthStateStore
from adapters.slack.replies import ResponseUrls
from core.errors import ConfigError
from core.outbox import Delivery
from core.runner import CommandRunner

_log = logging.getLogger(__name__)
_bolt_log = logging.getLogger("slack_bolt")
# A library logger name, so the logging set-up holds it at WARNING: see _quiet_copy.
_oauth_http_log = logging.getLogger("slack_sdk.web.oauth_http")

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes this code needs, with what needs them; manifest.yml declares exactly these.
BOT_SCOPES = {
    "commands": "the /session slash command",
    "chat:write": "chat.postMessage and chat.update (cards, plans, notifications)",
    "im:write": "conversations.open (reminders by DM)",
    "users:read": "users.info (workspace admins and owners)",
}
# Seconds `stop` waits for listener work already acknowledged; what is left is then cancelled.
STOP_WAIT = 8.0
# Web API errors that mean the credential itself is wrong: retrying cannot help.
BAD_CREDENTIAL = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


def not_installed_message(install_url: str) -> str:
    return (
        ":no_entry: sessionbot is not installed in this Slack workspace, so it cannot act here. "
        f"A workspace admin can add it at {install_url}"
    )


@dataclass(frozen=True, slots=True)
class SlackOAuth:
    """Multi-workspace OAuth: the app's credentials and where installs and states are kept."""

    client_id: str
    client_secret: str = field(repr=False)
    installations: SlackInstallationStore
    states: SlackOAuthStateStore
    redirect_uri: str | None = None

    @property
    def install_url(self) -> str:
        """The public install page when the redirect URL is known, else its path."""
        if self.redirect_uri and self.redirect_uri.endswith(REDIRECT_PATH):
            return self.redirect_uri[: -len(REDIRECT_PATH)] + INSTALL_PATH
        return f"the bot's {INSTALL_PATH} page"

    def flow(self, client: AsyncWebClient) -> AsyncOAuthFlow:
        """The install flow: /slack/install redirects to Slack, the redirect stores the install."""
        settings = AsyncOAuthSettings(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scopes=list(BOT_SCOPES),
            user_scopes=[],
            redirect_uri=self.redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            install_page_rendering_enabled=False,  # straight to Slack's authorize page
            installation_store=self.installations,
            installation_store_bot_only=True,
            state_store=self.states,
            state_expiration_seconds=int(STATE_TTL.total_seconds()),
            logger=_bolt_log,
        )
        return AsyncOAuthFlow(client=_quiet_copy(client), logger=_bolt_log, settings=settings)

    def authorize(self, client: AsyncWebClient) -> AsyncInstallationStoreAuthorize:
        """Find each team's bot token; auth.test once per token, not on every request."""
        return AsyncInstallationStoreAuthorize(
            logger=_bolt_log,
            installation_store=self.installations,
            client_id=self.client_id,
            client_secret=self.client_secret,
            bot_only=True,
            cache_enabled=True,
            client=_quiet_copy(client),  # token rotation's oauth.v2.access, if ever enabled
        )


class SlackAdapter:
    """One Slack app: its listeners, its transport and its outbox delivery."""

    name = "slack"

    def __init__(
        self,
        runner: CommandRunner,
        client: AsyncWebClient,
        *,
        signing_secret: str | None = None,
        app_token: str | None = None,
        oauth: SlackOAuth | None = None,
    ) -> None:
        self.replies = ResponseUrls()
        self.hints = InviteHints(self.replies)
        self.client = client
        self.oauth = oauth
        token_for = oauth.installations.token_for if oauth else None
        self.delivery: Delivery = SlackDelivery(client, hints=self.hints, token_for=token_for)
        self.handlers = SlackHandlers(
            runner, admins=AdminDirectory(), hints=self.hints, replies=self.replies
        )
        # HTTP mode checks each request's signature in `handle_http`, before Bolt sees it;
        # Socket Mode payloads arrive over an authenticated socket.
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret or "",
            request_verification_enabled=False,
            # The listeners ack within their budget and spawn the rest, so answering after them
            # is answering at once.
            process_before_response=True,
            # The app subscribes to one event, app_home_opened (manifest.yml), whose request
            # URL Slack verifies once; it runs no workflow functions: skip that middleware.
            ignoring_self_events_enabled=False,
            attaching_function_token_enabled=False,
            logger=_bolt_logger(),
            **_oauth_arguments(oauth, client),
        )
        self.handlers.register(self.app)
        self.socket = AsyncSocketModeHandler(self.app, app_token) if app_token else None
        self._problem: str | None = "not started"
        self.stop_wait = STOP_WAIT

    @property
    def mode(self) -> str:
        return "socket" if self.socket is not None else "http"

    def mount(self, web_app: web.Application, path: str = EVENTS_PATH) -> None:
        """Serve Bolt at `POST path` on the bot's aiohttp application (HTTP mode)."""
        web_app.router.add_post(path, self.handle_http)

    def mount_oauth(self, web_app: web.Application) -> None:
        """Serve the install page and Slack's OAuth redirect (`GET`), in either mode."""
        web_app.router.add_get(INSTALL_PATH, self.handle_install)
        web_app.router.add_get(REDIRECT_PATH, self.handle_oauth_redirect)

    async def handle_install(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None, "mount_oauth needs an OAuth-configured adapter"
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def handle_oauth_redirect(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None, "mount_oauth needs an OAuth-configured adapter"
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    async def handle_http(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:  # one short line; never the body or the headers
            _log.warning("Slack request refused: %s (from %s)", refusal, request.remote)
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _refusal(self, request: web.Request) -> str | None:
        """Why a request is not Slack's (None when its signature holds)."""
        if self._verifier is None:
            return "no signing secret configured"
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not timestamp.isdigit() or not signature:
            return "missing or malformed signature headers"
        body = await request.read()  # bounded by the server's client_max_size
        if not self._verifier.is_valid(body, timestamp, signature):
            return "bad signature or stale timestamp"
        return None

    async def start(self) -> None:
        """Check the token (auth.test) and, in Socket Mode, connect.

        A refused credential raises ConfigError naming its variable; any other failure (Slack
        unreachable, a 5xx) is raised as it is, for the caller to retry.
        """
        if self.oauth is not None:
            await self._start_oauth()
        else:
            await self._check_token()
        if self.socket is not None:
            try:
                await self._open_socket()
            except BaseException:  # failed, refused or cancelled: the next attempt starts clean
                await self._drop_socket()
                raise

    async def _open_socket(self) -> None:
        assert self.socket is not None
        socket = self.socket.client
        try:  # connect() would retry a refused app token forever: ask for the URL first
            socket.wss_uri = await socket.issue_new_wss_url()
        except SlackApiError as exc:
            raise _credential_error("SLACK_APP_TOKEN", exc) from None
        await self.socket.connect_async()  # type: ignore[no-untyped-call]

    async def _drop_socket(self) -> None:
        """Close what a failed connect opened (its websocket, its receiver tasks, its HTTP
        session) without closing the client for good: connect() opens a new session then."""
        assert self.socket is not None
        socket = self.socket.client
        for task in (socket.current_session_monitor, socket.message_receiver):
            if task is not None:
                task.cancel()
        if socket.current_session is not None:
            await socket.current_session.close()
        await socket.aiohttp_client_session.close()

    async def _start_oauth(self) -> None:
        """OAuth mode has no single token to check: each team's is found per request."""
        assert self.oauth is not None
        teams = await self.oauth.installations.store.every(PLATFORM)
        self._problem = None
        _log.info("Slack app in %s mode with OAuth; installed in %d team(s)", self.mode, len(teams))

    async def _check_token(self) -> None:
        try:
            identity = await self.client.auth_test()
        except (SlackApiError, SlackClientError, OSError) as exc:
            self._problem = f"auth.test failed: {_reason(exc)}"
            if isinstance(exc, SlackApiError):
                raise _credential_error("SLACK_BOT_TOKEN", exc) from None
            raise
        self.hints.bot_user_id = identity.get("user_id")
        self._problem = _missing_scopes(identity.headers)
        _log.info("Slack app for team %s in %s mode", identity.get("team_id"), self.mode)

    async def stop(self) -> None:
        """Stop taking payloads, then let in-flight listener work finish (bounded)."""
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        if not await self.handlers.idle(timeout=self.stop_wait):
            _log.warning("Slack listener work still running at shutdown: cancelled")
            await self.handlers.cancel()
        await self.replies.close()
        self._problem = "stopped"

    async def ready_problem(self) -> str | None:
        if self._problem is not None:
            return self._problem
        if self.socket is not None and not await self.socket.client.is_connected():
            return "socket mode not connected"
        return None


def _quiet_copy(client: AsyncWebClient) -> AsyncWebClient:
    """The client for oauth.v2.access, whose response holds the new token: slack_sdk logs
    response bodies at DEBUG on the client's logger, and this one is never let below WARNING."""
    _oauth_http_log.setLevel(logging.WARNING)  # also where the logging set-up is not ours
    return AsyncWebClient(
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=list(client.retry_handlers),
        logger=_oauth_http_log,
    )


def _oauth_arguments(oauth: SlackOAuth | None, client: AsyncWebClient) -> dict[str, Any]:
    """The AsyncApp arguments of OAuth mode: install flow, per-team authorize, refusal text."""
    if oauth is None:
        return {}
    return {
        "oauth_flow": oauth.flow(client),
        "authorize": oauth.authorize(client),
        "user_facing_authorize_error_message": not_installed_message(oauth.install_url),
    }


def _missing_scopes(headers: dict[str, Any]) -> str | None:
    """Compare the token's scopes (auth.test's `x-oauth-scopes`) with `BOT_SCOPES`."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if raw is None:
        return None
    text = ",".join(raw) if isinstance(raw, list) else str(raw)
    missing = sorted(set(BOT_SCOPES) - {s.strip() for s in text.split(",")})
    if not missing:
        return None
    _log.error("the Slack token lacks scopes %s (see manifest.yml)", ", ".join(missing))
    return f"missing scopes: {', '.join(missing)}"


def _credential_error(variable: str, exc: SlackApiError) -> Exception:
    """ConfigError when Slack refused the credential itself, else the error to retry on."""
    error = exc.response.get("error")
    if error in BAD_CREDENTIAL:
        return ConfigError(variable, f"Slack refused it ({error})")
    return exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return exc.__class__.__name__


class _EnvTokenWarning(logging.Filter):
    """Bolt also reads SLACK_BOT_TOKEN from the process environment and, given our client
    (built from that same token, or tokenless with OAuth), warns that the token "will be
    unused" at every start: a false alarm, dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != warning_client_prioritized_and_token_skipped()


class _UnhandledRequestWarning(logging.Filter):
    """Bolt's "Unhandled request (…)" warning quotes parts of the request body (user text,
    ids, values): a request body never reaches the log, so the warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(UNHANDLED_PREFIX))


UNHANDLED_PREFIX = "Unhandled request ("
_ENV_TOKEN_WARNING = _EnvTokenWarning()
_UNHANDLED_WARNING = _UnhandledRequestWarning()


def _bolt_logger() -> logging.Logger:
    # addFilter skips a filter already there
    _bolt_log.addFilter(_ENV_TOKEN_WARNING)
    _bolt_log.addFilter(_UNHANDLED_WARNING)
    return _bolt_log
