"""`sessionbot serve`: chat adapters, outbox delivery and the HTTP server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from bot.api import mount_api
from bot.app import Core, job_scheduler, open_core
from bot.config import Config
from bot.http import Check, HttpServer
from bot.scheduler import JobScheduler
from bot.supervisor import AdapterSupervisor
from core.clock import Clock
from core.errors import ConfigError, StoreError
from core.outbox import Delivery

_log = logging.getLogger(__name__)


class ChatAdapter(Protocol):
    """A running connection to one chat platform."""

    name: str
    delivery: Delivery

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready_problem(self) -> str | None: ...


def chat_adapters(config: Config, core: Core, http: HttpServer) -> list[ChatAdapter]:
    """Build the adapters whose tokens are configured."""
    found: list[ChatAdapter] = []
    # Each platform's builder lives in its own module: bot/slack.py, bot/discord.py.
    if config.slack.enabled:
        from bot.slack import slack_adapter

        found.append(slack_adapter(config.slack, core, http))
    if config.discord.enabled:
        from bot.discord import discord_adapter  # imports discord.py only when configured

        found.append(discord_adapter(config.discord, core))
    return found


def database_check(core: Core) -> Check:
    async def check() -> str | None:
        try:
            current, latest = await core.store.schema_status()
        except StoreError as exc:
            return f"unreachable: {exc.message}"
        return None if current == latest else f"schema at {current}, code expects {latest}"

    return check


def scheduler_check(scheduler: JobScheduler) -> Check:
    async def check() -> str | None:
        return None if scheduler.running else "the scheduler is not running"

    return check


async def serve(
    config: Config, *, clock: Clock | None = None, stop: asyncio.Event | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or `stop`), then shut down in order and return 0.

    Start-up and shutdown are one stack: whatever was opened is closed, in reverse, whether
    the process stops normally, on a signal during start-up, or on a refused credential (then
    re-raised as the ConfigError naming its variable).
    """
    stop = stop or asyncio.Event()
    _on_signals(stop)
    refused: list[ConfigError] = []

    def on_refused(error: ConfigError) -> None:
        refused.append(error)
        stop.set()

    async with contextlib.AsyncExitStack() as stack:
        starting = asyncio.create_task(_start(config, stack, stop, on_refused, clock))
        if await _unless_stopped(starting, stop):
            # What start-up built (modules, apps, clients) lives as long as the process: keep
            # it out of the collector's full passes, whose pauses lengthened the Slack bench's
            # p99 tail.
            gc.freeze()
            await stop.wait()
            gc.unfreeze()
        _log.info("shutting down")
    _log.info("stopped")
    if refused:
        raise refused[0]
    return 0


async def _start(
    config: Config,
    stack: contextlib.AsyncExitStack,
    stop: asyncio.Event,
    on_refused: Callable[[ConfigError], None],
    clock: Clock | None,
) -> None:
    """Open everything, each with its closing on `stack`; chat platforms start in the background.

    The stack closes in reverse: start-up attempts, the HTTP port (requests in flight get
    their answers), the adapters (and listener work already acknowledged), the scheduler, the
    delivery round in progress (the rest waits in the outbox), then the database.
    """
    core = await open_core(config, clock=clock)
    stack.push_async_callback(core.close)
    http = HttpServer(config.http_host, config.http_port)
    mount_api(http.app, core.service)
    http.add_check("database", database_check(core))
    if core.metrics is not None:
        core.metrics.mount(http.app)
    adapters = chat_adapters(config, core, http)
    if not adapters:
        _log.info("no chat adapter configured: serving the HTTP API only")
    for adapter in adapters:
        core.dispatcher.register(adapter.delivery)
    delivering = asyncio.create_task(core.dispatcher.run_forever(stop))
    stack.push_async_callback(_finish_delivery, core, delivering, stop)
    scheduler = job_scheduler(config, core)
    await scheduler.start()
    stack.push_async_callback(scheduler.stop)
    http.add_check("scheduler", scheduler_check(scheduler))
    supervisors = [AdapterSupervisor(a, on_refused=on_refused) for a in adapters]
    for supervisor in supervisors:
        http.add_check(supervisor.name, supervisor.ready_problem)
        stack.push_async_callback(supervisor.adapter.stop)
    await http.start()
    stack.push_async_callback(http.stop)
    for supervisor in supervisors:
        supervisor.start()
        stack.push_async_callback(supervisor.cancel)


async def _unless_stopped(work: asyncio.Task[None], stop: asyncio.Event) -> bool:
    """Wait for `work` unless `stop` comes first (then cancel it); True when it finished."""
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return False
    work.result()  # a start-up error propagates; the stack closes what was opened
    return True


async def _finish_delivery(core: Core, delivering: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    core.dispatcher.wake()
    await delivering


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
