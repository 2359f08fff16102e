"""Prometheus metrics (§11) for `GET /metrics`, in a registry of the process's own.

Core stays free of prometheus: the command runner, the store engine and the job scheduler each
take an observer callback, and `Metrics` is the one that turns those calls into families.
Gauges that need the database (sessions by status, outbox backlog and dead rows) are read when
scraped, at most once per `cache_for` of the injected clock, so a busy scraper costs a couple of
index scans every few seconds and nothing more.

Families (all prefixed `sessionbot_`):
- `commands_total{command,outcome}`, `command_duration_seconds{command,outcome}`: `/session`
  commands and plan buttons; outcome ok | refused | error | duplicate.
- `sessions{status}`: sessions by status, every workspace.
- `job_runs_total{job}`, `job_errors_total{job}`, `job_duration_seconds{job}`,
  `job_lag_seconds{job}`: scheduler jobs (sweep, cleanup, maintenance, summary); lag is how late
  the last run started after its scheduled time.
- `outbox_backlog`, `outbox_dead`, `outbox_deliveries_total{outcome}`: notifications.
- `db_operation_duration_seconds{operation}`: write (until durable), read, raw.
- `http_requests_total{method,route,status}`, `http_request_duration_seconds{method,route}`:
  every request to the HTTP server (the API, Slack's events, health), by route template.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from core.clock import Clock
from core.models import Status
from core.store import decode
from core.store.store import Store

_log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PREFIX = "sessionbot"
COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)


class DeliveryCounts(Protocol):
    """What the outbox dispatcher counts (core/outbox.py)."""

    delivered: int
    failed: int


def job_label(job_id: str) -> str:
    """`summary:slack:T1:C1` → `summary`: one series per kind of job, not per channel."""
    return job_id.split(":", 1)[0]


class _DeliveryCollector(Collector):
    """Reads the dispatcher's own counters at scrape time."""

    def __init__(self) -> None:
        self.source: DeliveryCounts | None = None

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            f"{PREFIX}_outbox_deliveries",
            "Outbox delivery attempts by this process, by outcome.",
            labels=["outcome"],
        )
        source = self.source
        family.add_metric(["delivered"], source.delivered if source else 0)
        family.add_metric(["failed"], source.failed if source else 0)
        return [family]

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield from self.collect()


class Metrics:
    """Every family of one process, fed by observers and refreshed from the store on scrape."""

    def __init__(self, *, clock: Clock, cache_for: timedelta = timedelta(seconds=5)) -> None:
        self.clock = clock
        self.cache_for = cache_for
        self.registry = CollectorRegistry()
        self._store: Store | None = None
        self._refreshed: datetime | None = None
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._deliveries = _DeliveryCollector()
        self._families()
        self.registry.register(self._deliveries)

    def _families(self) -> None:
        r = self.registry
        self.commands = Counter(
            f"{PREFIX}_commands",
            "Commands run, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            f"{PREFIX}_command_duration_seconds",
            "Time to answer a command.",
            ["command", "outcome"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.sessions = Gauge(f"{PREFIX}_sessions", "Sessions by status.", ["status"], registry=r)
        self.job_runs = Counter(f"{PREFIX}_job_runs", "Scheduler job runs.", ["job"], registry=r)
        self.job_errors = Counter(
            f"{PREFIX}_job_errors", "Scheduler job runs that failed.", ["job"], registry=r
        )
        self.job_seconds = Histogram(
            f"{PREFIX}_job_duration_seconds",
            "Scheduler job run time.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_lag = Gauge(
            f"{PREFIX}_job_lag_seconds",
            "How late the last run of a job started.",
            ["job"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            f"{PREFIX}_outbox_backlog", "Notifications waiting to be delivered.", registry=r
        )
        self.outbox_dead = Gauge(
            f"{PREFIX}_outbox_dead", "Notifications given up after repeated failures.", registry=r
        )
        self.db_seconds = Histogram(
            f"{PREFIX}_db_operation_duration_seconds",
            "Database operations: write (until durable), read, raw.",
            ["operation"],
            buckets=DB_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.unreadable_rows = Gauge(
            f"{PREFIX}_unreadable_rows",
            "Stored JSON values read as empty because they could not be decoded, by table.",
            ["table"],
            registry=r,
        )
        self.refresh_errors = Counter(
            f"{PREFIX}_metrics_refresh_errors",
            "Scrapes that could not read the database.",
            registry=r,
        )
        for status in Status:
            self.sessions.labels(status.value)

    # -- wiring ------------------------------------------------------------------------------

    def watch(self, store: Store, deliveries: DeliveryCounts | None = None) -> None:
        """Time the store's operations and read its counts (and the dispatcher's) on scrape."""
        self._store = store
        self._deliveries.source = deliveries
        store.observe_operations(self.db_operation)

    def mount(self, app: web.Application, path: str = "/metrics") -> None:
        """Serve `path` and count every request of `app` (before the app starts)."""
        app.router.add_get(path, self.handle)
        app.middlewares.append(self._count_requests)

    @web.middleware
    async def _count_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started, status = time.perf_counter(), 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            info = request.match_info.route.resource
            route = info.canonical if info is not None else "unmatched"
            self._child(self.http_requests, request.method, route, str(status)).inc()
            seconds = time.perf_counter() - started
            self._child(self.http_seconds, request.method, route).observe(seconds)

    def _child(self, family: Counter | Histogram, *values: str) -> Any:
        """`family.labels(*values)`, looked up once: `labels()` checks and locks on every call,
        and these run several times per request. The label values are bounded (routes, status
        codes, command names, store operations), and so is this cache."""
        key = (id(family), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    # -- observers (called by core and the scheduler) -----------------------------------------

    def command(self, command: str, outcome: str, seconds: float) -> None:
        self._child(self.commands, command, outcome).inc()
        self._child(self.command_seconds, command, outcome).observe(seconds)

    def db_operation(self, operation: str, seconds: float) -> None:
        self._child(self.db_seconds, operation).observe(seconds)

    def job_ran(self, job: str, seconds: float, *, failed: bool) -> None:
        label = job_label(job)
        self.job_runs.labels(label).inc()
        self.job_seconds.labels(label).observe(seconds)
        if failed:
            self.job_errors.labels(label).inc()

    def job_late(self, job: str, seconds: float) -> None:
        self.job_lag.labels(job_label(job)).set(max(0.0, seconds))

    # -- scrape --------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the database gauges unless they are fresher than `cache_for`."""
        for table, seen in decode.UNREADABLE.items():
            self.unreadable_rows.labels(table).set(seen)
        now = self.clock.now()
        if self._store is None or (
            self._refreshed is not None and now - self._refreshed < self.cache_for
        ):
            return
        try:
            counts = await self._store.sessions.counts()
            outbox = await self._store.outbox.counts()
        except Exception:  # a scrape never fails for the database: the gauges stay as they were
            self.refresh_errors.inc()
            _log.warning("metrics: could not read the database", exc_info=True)
            return
        for status in Status:
            self.sessions.labels(status.value).set(counts.get(status.value, 0))
        self.outbox_backlog.set(outbox.get("pending", 0))
        self.outbox_dead.set(outbox.get("dead", 0))
        self._refreshed = now

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        await self.refresh()
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
