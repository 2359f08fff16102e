"""`sessionbot serve`: chat adapters, outbox delivery and the HTTP server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Protocol

from bot.api import mount_api
from bot.app import Core, job_scheduler, open_core
from bot.config import Config
from bot.http import Check, HttpServer
from bot.scheduler import JobScheduler
from bot.waiting import log_waiting, waiting_info
from core.clock import Clock
from core.errors import StoreError
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
    """Run until SIGTERM/SIGINT (or `stop`), then shut down in order and return 0."""
    stop = stop or asyncio.Event()
    core = await open_core(config, clock=clock)
    http = HttpServer(config.http_host, config.http_port)
    mount_api(http.app, core.service)
    http.add_check("database", database_check(core))
    if core.metrics is not None:
        core.metrics.mount(http.app)
    adapters = chat_adapters(config, core, http)
    for adapter in adapters:
        core.dispatcher.register(adapter.delivery)
        http.add_check(adapter.name, adapter.ready_problem)
    http.add_info("waiting", waiting_info(core.store, lambda: core.dispatcher.deliveries))
    _on_signals(stop)
    await http.start()
    for adapter in adapters:
        await adapter.start()
    delivering = asyncio.create_task(core.dispatcher.run_forever(stop))
    scheduler = job_scheduler(config, core)
    await scheduler.start()
    http.add_check("scheduler", scheduler_check(scheduler))
    await log_waiting(core.store, core.dispatcher.deliveries)
    # What start-up built (modules, apps, clients) lives as long as the process: keep it out
    # of the collector's full passes, whose pauses lengthened the Slack bench's p99 tail.
    gc.freeze()
    await stop.wait()
    gc.unfreeze()
    await _shut_down(core, http, adapters, scheduler, delivering)
    return 0


async def _shut_down(
    core: Core,
    http: HttpServer,
    adapters: list[ChatAdapter],
    scheduler: JobScheduler,
    delivering: asyncio.Task[None],
) -> None:
    """Stop taking requests, finish the work already taken, then close the database."""
    _log.info("shutting down")
    await http.stop()  # closes the port; requests in flight get their answers
    for adapter in adapters:
        await adapter.stop()  # the gateway/socket, then listener work already acknowledged
    await scheduler.stop()
    core.dispatcher.wake()
    await delivering  # the delivery round in progress ends; the rest waits in the outbox
    await core.close()
    _log.info("stopped")


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
