"""`sessionbot serve`: chat adapters, outbox delivery and the HTTP server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.api import mount_api
from bot.app import Core, api_config, job_scheduler, open_core
from bot.config import Config
from bot.http import Check, HttpServer
from bot.scheduler import JobScheduler
from bot.supervisor import AdapterSupervisor
from bot.waiting import log_waiting, waiting_info
from bot.web import mount_configured
from core.clock import Clock
from core.errors import ConfigError, StoreError
from core.outbox import Delivery

_log = logging.getLogger(__name__)

GC_THRESHOLDS = (20_000, 20, 20)  # young, middle, old: `gc.set_threshold` while serving

# Seconds the whole shutdown may take. Each step has its own bound, but their sum may come
# near 30 s and a step may hang past its own: past this deadline the process says which steps
# are still closing and exits 1, within a usual 30 s termination grace period.
SHUTDOWN_DEADLINE = 25.0


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
    the process stops normally, on a signal during start-up, on a refused credential (then
    re-raised as the ConfigError naming its variable), or when `serve` itself is cancelled.
    The closing is bounded by SHUTDOWN_DEADLINE, and a second signal exits at once.
    """
    stop = stop or asyncio.Event()
    installed = _on_signals(stop)
    refused: list[ConfigError] = []

    def on_refused(error: ConfigError) -> None:
        refused.append(error)
        stop.set()

    closing = Closing()
    try:
        starting = asyncio.create_task(
            _start(config, closing, stop, on_refused, clock), name="start-up"
        )
        try:
            if await _unless_stopped(starting, stop):
                # What start-up built (modules, apps, clients) lives as long as the process:
                # keep it out of the collector's full passes, whose pauses lengthened the Slack
                # bench's p99 tail; and collect the young generation every 20,000 allocations
                # rather than every 700 (a request allocates thousands of short-lived objects,
                # freed by reference counting, not by the collector).
                gc.freeze()
                thresholds = gc.get_threshold()
                gc.set_threshold(*GC_THRESHOLDS)
                try:
                    await stop.wait()
                finally:  # given back however serving ends
                    gc.set_threshold(*thresholds)
                    gc.unfreeze()
        finally:
            await _cancelled(starting)  # cancelled itself: start-up pushes nothing more
            _log.info("shutting down")
            left = await closing.close(SHUTDOWN_DEADLINE)
            if left:
                _log.error(
                    "shutdown took longer than %gs; still closing: %s; exiting",
                    SHUTDOWN_DEADLINE,
                    ", ".join(left),
                )
                _exit_now(1)
    finally:
        _off_signals(installed)
    _log.info("stopped")
    if refused:
        raise refused[0]
    return 0


class Closing:
    """The shutdown steps, each closing what start-up opened (run in reverse), by name."""

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._left: list[str] = []

    def push(self, name: str, close: Callable[[], Awaitable[object]]) -> None:
        self._left.append(name)

        async def step() -> None:
            try:
                await close()
            finally:
                self._left.remove(name)

        self._stack.push_async_callback(step)

    async def close(self, deadline: float) -> list[str]:
        """Run the steps (an error in one is raised after the rest ran); the names of those
        not done when `deadline` seconds have passed (then the closing is left cancelled)."""
        closing = asyncio.create_task(self._stack.aclose())
        done, _ = await asyncio.wait({closing}, timeout=deadline)
        if not done:
            left = list(reversed(self._left))
            closing.cancel()
            return left
        closing.result()
        return []


async def _start(
    config: Config,
    closing: Closing,
    stop: asyncio.Event,
    on_refused: Callable[[ConfigError], None],
    clock: Clock | None,
) -> None:
    """Open everything, each with its closing pushed; chat platforms start in the background.

    The steps close in reverse: start-up attempts, the HTTP port (requests in flight get
    their answers), the scheduler, the delivery round in progress (the rest waits in the
    outbox; it still posts through the adapters' clients), the adapters (and listener work
    already acknowledged), then the database.
    """
    core = await open_core(config, clock=clock)
    closing.push("database", core.close)
    http = HttpServer(config.http_host, config.http_port)
    mount_api(http.app, core.services, config=api_config(config))
    mount_configured(http.app, core.services, config)
    http.add_check("database", database_check(core))
    if core.metrics is not None:
        core.metrics.mount(http.app)
    adapters = chat_adapters(config, core, http)
    if not adapters:
        _log.info("no chat adapter configured: serving the HTTP API only")
    for adapter in adapters:
        core.dispatcher.register(adapter.delivery)
        closing.push(f"{adapter.name} adapter", adapter.stop)
    delivering = asyncio.create_task(core.dispatcher.run_forever(stop), name="outbox-delivery")
    http.add_check("outbox", watch_delivery(delivering, stop))
    closing.push("outbox delivery", lambda: _finish_delivery(core, delivering, stop))
    scheduler = job_scheduler(config, core)
    await scheduler.start()
    closing.push("scheduler", scheduler.stop)
    http.add_check("scheduler", scheduler_check(scheduler))
    supervisors = [AdapterSupervisor(a, on_refused=on_refused) for a in adapters]
    for supervisor in supervisors:
        http.add_check(supervisor.name, supervisor.ready_problem)
    await http.start()
    closing.push("HTTP server", http.stop)
    for supervisor in supervisors:
        supervisor.start()
        closing.push(f"{supervisor.name} start-up", supervisor.cancel)
    http.add_info("waiting", waiting_info(core.store.outbox, lambda: core.dispatcher.deliveries))
    await log_waiting(core.store.outbox, core.dispatcher.deliveries)


def watch_delivery(delivering: asyncio.Task[None], stop: asyncio.Event) -> Check:
    """The `outbox` readiness check: down (and logged once) if delivery ended before `stop`."""
    ended: list[str] = []

    def on_done(task: asyncio.Task[None]) -> None:
        if stop.is_set():
            return
        error = None if task.cancelled() else task.exception()
        reason = f"{error.__class__.__name__}: {error}" if error else "it returned"
        ended.append(f"delivery stopped ({reason}); restart the process")
        _log.error("outbox delivery stopped (%s): notices wait until a restart", reason)

    delivering.add_done_callback(on_done)

    async def check() -> str | None:
        return ended[0] if ended else None

    return check


async def _unless_stopped(work: asyncio.Task[None], stop: asyncio.Event) -> bool:
    """Wait for `work` unless `stop` comes first (then cancel it); True when it finished."""
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _cancelled(stopping)
    if not work.done():
        await _cancelled(work)
        return False
    work.result()  # a start-up error propagates; the steps close what was opened
    return True


async def _cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel `task` (if still running) and wait until it has ended, whatever its outcome."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _finish_delivery(core: Core, delivering: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    core.dispatcher.wake()
    await delivering


def _on_signals(stop: asyncio.Event) -> list[signal.Signals]:
    """SIGTERM/SIGINT set `stop`; a second one exits at once. Returns the signals handled."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            _log.info("%s received: stopping", sig.name)
            stop.set()
            return
        _log.warning("%s received again while stopping: exiting now", sig.name)
        _exit_now(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    return installed


def _off_signals(installed: list[signal.Signals]) -> None:
    loop = asyncio.get_running_loop()
    for sig in installed:
        loop.remove_signal_handler(sig)


def _exit_now(code: int) -> None:
    """Leave the process without unwinding further (log lines are already flushed)."""
    logging.shutdown()
    os._exit(code)
