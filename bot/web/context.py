"""What every web handler shares: the services, sign-in, the page reads, the templates and
the cookie rules, kept on the `/web` sub-application."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from bot.web.discord_oauth import DiscordSignIn
from bot.web.oidc import SlackSignIn
from core.records.web import WebSession
from core.services.stats_page import StatsPages
from core.services.web_pages import WebReads
from core.services.web_signin import SignIn, WebTimeouts
from core.waiters import Waiters
from core.wiring import Services

HERE = Path(__file__).resolve().parent
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
INBOX = "inbox"  # the Waiters keys open inbox streams watch: inbox:<workspace>


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "—"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def templates() -> jinja2.Environment:
    """Jinja2 with autoescaping on for every template: user text is always HTML-escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pretty"] = _json
    return env


def is_loopback_http(base_url: str) -> bool:
    """Plain HTTP on this machine only: the one case a cookie goes without `Secure`."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK


@dataclass(slots=True)
class WebContext:
    services: Services
    base_url: str
    secret: bytes
    timeouts: WebTimeouts = field(default_factory=WebTimeouts)
    signin: SignIn = field(init=False)
    reads: WebReads = field(init=False)
    stats: StatsPages = field(init=False)
    env: jinja2.Environment = field(default_factory=templates)
    changed: Waiters = field(default_factory=Waiters)  # open inboxes, by workspace (live.py)
    woken: set[str] = field(default_factory=set)  # wake-up keys not yet sorted by workspace
    waking: asyncio.Task[None] | None = None  # the round sorting them
    streams: Counter[str] = field(default_factory=Counter)  # open streams per browser session
    slack: SlackSignIn | None = None  # Sign in with Slack, when configured
    discord: DiscordSignIn | None = None  # Sign in with Discord, when configured
    closing: bool = False
    heartbeat: float = 15.0  # seconds between comment lines on a quiet live stream
    stream_lifetime: float = 300.0  # seconds a live stream lasts before the browser reconnects

    def __post_init__(self) -> None:
        s = self.services
        self.signin = SignIn(s.store, s.clock, self.timeouts)
        self.reads = WebReads(s.store, s.access, s.sessions)
        self.stats = StatsPages(s.workspace, s.store.tallies, s.clock)

    @property
    def secure(self) -> bool:
        return not is_loopback_http(self.base_url)

    @property
    def cookie(self) -> str:
        """`__Host-` binds the cookie to this host and path `/` (browsers require Secure)."""
        return "__Host-sessionbot" if self.secure else "sessionbot"

    @property
    def pre_cookie(self) -> str:
        return "__Host-sessionbot-login" if self.secure else "sessionbot-login"

    def sign(self, value: str) -> str:
        mac = hmac.new(self.secret, f"web-session:{value}".encode(), hashlib.sha256).digest()
        return f"{value}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def unsign(self, signed: str) -> str | None:
        value, _, _ = signed.rpartition(".")
        if value and hmac.compare_digest(self.sign(value).encode(), signed.encode()):
            return value
        return None

    def set_cookie(self, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            path="/",
            max_age=max_age,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )

    def signed_in(self, session_id: str) -> web.Response:
        """The answer to a sign-in that worked: the session cookie, and on to the inbox."""
        response = see_other("/web/inbox")
        age = int(self.timeouts.absolute.total_seconds())
        self.set_cookie(response, self.cookie, self.sign(session_id), age)
        return response

    def render(
        self,
        name: str,
        *,
        status: int = 200,
        session: WebSession | None = None,
        **values: Any,
    ) -> web.Response:
        html = self.env.get_template(name).render(me=session, **values)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def see_other(location: str) -> web.Response:
    """The answer to a form that worked: the browser follows it with a GET (303)."""
    return web.Response(status=303, headers={"Location": location})


WEB = web.AppKey("web", WebContext)
ME = web.RequestKey("web_session", WebSession)


def new_secret(configured: str | None) -> bytes:
    return configured.encode() if configured else secrets.token_bytes(32)
