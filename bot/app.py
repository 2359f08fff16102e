"""Wiring: the one place that knows every concrete class and puts the process together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from adapters.console.adapter import ConsoleAdapter, ConsoleDelivery, ConsoleScreen
from bot.api import ApiConfig, mount_api
from bot.config import Config
from bot.http import HttpServer
from bot.metrics import Metrics
from bot.scheduler import JobScheduler
from bot.web import mount_configured
from bot.webhooks import AiohttpWebhookSender
from core.clock import Clock, SystemClock
from core.delivery import NoChatDelivery
from core.history.context import purge_context
from core.outbox import Delivery, OutboxDispatcher
from core.runner import CommandRunner
from core.store.factory import open_store
from core.store.store import Store
from core.wiring import Services, build_services

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class Core:
    """The store, services, runner and outbox dispatcher of one process."""

    store: Store
    services: Services
    runner: CommandRunner
    dispatcher: OutboxDispatcher
    webhook_sender: AiohttpWebhookSender | None = None
    metrics: Metrics | None = None

    async def close(self) -> None:
        if self.webhook_sender is not None:
            await self.webhook_sender.close()
        await self.store.close()


async def open_core(
    config: Config, *, deliveries: Sequence[Delivery] = (), clock: Clock | None = None
) -> Core:
    """Open the database (migrating it) and build the services around it."""
    clock = clock or SystemClock()
    store = open_store(config.database_url)
    await store.open()
    services = build_services(store, clock=clock, config=config.service_config())
    sender = AiohttpWebhookSender(policy=config.webhook_policy)
    dispatcher = OutboxDispatcher(
        store,
        clock=clock,
        deliveries=[NoChatDelivery(), *deliveries],
        webhook_sender=sender,
        homes=services.home.of,
    )
    services.workspace.delivered_platforms = lambda: frozenset(dispatcher.deliveries)  # for stats
    _wake_on_commit(store, dispatcher)
    metrics = Metrics(clock=clock)
    metrics.watch(store, dispatcher)
    runner = CommandRunner(services, observe=metrics.command)
    return Core(store, services, runner, dispatcher, sender, metrics)


def api_config(config: Config) -> ApiConfig:
    """The HTTP API's limits set by the environment."""
    return ApiConfig(waits_per_token=config.max_waits_per_token)


def job_scheduler(config: Config, core: Core) -> JobScheduler:
    """The APScheduler jobs of §9 for this process."""
    return JobScheduler(
        core.services,
        clock=core.services.clock,
        sweep_every=config.sweep_interval,
        archive_dir=config.archive_dir,
        purge_context=purge_context,
        observer=core.metrics,
    )


def _wake_on_commit(store: Store, dispatcher: OutboxDispatcher) -> None:
    loop = asyncio.get_running_loop()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(dispatcher.wake)

    store.on_commit(wake)


async def run_console(
    config: Config,
    *,
    user: str = "you",
    channel: str = "general",
    out: TextIO | None = None,
    read_line: Callable[[], str] | None = None,
    interactive: bool | None = None,
    clock: Clock | None = None,
    with_http: bool = False,
) -> int:
    """The console REPL with outbox delivery in the background; returns the exit code."""
    out = out or sys.stdout
    interactive = sys.stdin.isatty() if interactive is None else interactive
    screen = ConsoleScreen(out)
    core = await open_core(config, deliveries=[ConsoleDelivery(screen)], clock=clock)
    console = ConsoleAdapter(
        core.runner,
        core.dispatcher,
        screen,
        user=user,
        channel=channel,
        admins=config.admins | {user},
    )
    stop = asyncio.Event()
    background = asyncio.create_task(core.dispatcher.run_forever(stop, lock=console.lock))
    scheduler = job_scheduler(config, core)
    await scheduler.start()
    http = await _start_http(config, core) if with_http else None
    if interactive:
        out.write(f"sessionbot console on {config.database_url} as @{user} in #{channel}.\n")
        out.write("Type `help`, `@name command` to act as someone else, `quit` to leave.\n")
    try:
        await console.repl(read_line, interactive=interactive)
    finally:
        await scheduler.stop()
        stop.set()
        core.dispatcher.wake()
        await background
        if http is not None:
            await http.stop()
        await core.close()
    return 0


async def _start_http(config: Config, core: Core) -> HttpServer | None:
    """The HTTP server beside the console; a busy port only costs a warning."""
    http = HttpServer(config.http_host, config.http_port)
    mount_api(http.app, core.services, config=api_config(config))
    mount_configured(http.app, core.services, config)
    if core.metrics is not None:
        core.metrics.mount(http.app)
    try:
        await http.start()
    except OSError as exc:
        _log.warning(
            "HTTP server not started on %s:%s: %s", config.http_host, config.http_port, exc
        )
        await http.stop()
        return None
    return http
