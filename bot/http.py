"""The bot's one aiohttp server: health and readiness now; Slack events and the API mount here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

_log = logging.getLogger(__name__)
_protocol_log = logging.getLogger(f"{__name__}.protocol")

Check = Callable[[], Awaitable[str | None]]  # None when ready, else the reason
CHECK_TIMEOUT = 5.0  # a check that hangs (a locked database) means not ready
SHUTDOWN_TIMEOUT = 5.0  # how long requests in flight may take to finish at shutdown


class ClientErrorFilter(logging.Filter):
    """A request aiohttp could not parse (a URL over the line limit, bad headers) is answered
    400 and is the client's fault: one warning line, without traceback or request text."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = f"{record.getMessage()}: HTTP {error.code} ({error.__class__.__name__})"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_CLIENT_ERRORS = ClientErrorFilter()


class HttpServer:
    """Serves `/healthz`, `/readyz` and whatever routes adapters add to `app`."""

    def __init__(self, host: str, port: int, *, max_body: int = 1024 * 1024) -> None:
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=max_body)
        self.app.router.add_get("/healthz", self._health)
        self.app.router.add_get("/readyz", self._ready)
        self._checks: dict[str, Check] = {}
        self._runner: web.AppRunner | None = None

    def add_check(self, name: str, check: Check) -> None:
        """Readiness depends on `check` too (database, scheduler, adapters)."""
        self._checks[name] = check

    async def start(self) -> None:
        _protocol_log.addFilter(_CLIENT_ERRORS)  # once: the same filter is not added twice
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT, logger=_protocol_log
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and site._server is not None:  # chosen by the OS (tests)
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        _log.info("HTTP server on http://%s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _ready(self, request: web.Request) -> web.Response:
        problems: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    reason = await check()
            except TimeoutError:
                reason = f"no answer within {CHECK_TIMEOUT:g}s"
            except Exception as exc:  # a failing check means not ready, never a 500
                reason = f"{exc.__class__.__name__}"
            if reason:
                problems[name] = reason
        if problems:
            return web.json_response({"status": "unavailable", "problems": problems}, status=503)
        return web.json_response({"status": "ready", "checks": sorted(self._checks)})
