"""`/metrics` and `/readyz` on a real aiohttp server on 127.0.0.1, over a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession, ClientTimeout
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Core, open_core
from bot.config import Config
from bot.http import HttpServer
from bot.metrics import Metrics
from bot.scheduler import JobScheduler
from bot.serve import database_check, scheduler_check
from core.clock import ManualClock
from tests.conftest import CHAT, actor, execute

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

FAMILIES = {
    "sessionbot_commands",
    "sessionbot_command_duration_seconds",
    "sessionbot_sessions",
    "sessionbot_job_runs",
    "sessionbot_job_errors",
    "sessionbot_job_duration_seconds",
    "sessionbot_job_lag_seconds",
    "sessionbot_outbox_backlog",
    "sessionbot_outbox_dead",
    "sessionbot_outbox_deliveries",
    "sessionbot_db_operation_duration_seconds",
    "sessionbot_http_requests",
    "sessionbot_http_request_duration_seconds",
}


@dataclass
class Running:
    core: Core
    http: HttpServer
    web: ClientSession
    clock: ManualClock

    @property
    def metrics(self) -> Metrics:
        assert self.core.metrics is not None
        return self.core.metrics

    async def get(self, path: str) -> tuple[int, str, str]:
        async with self.web.get(f"http://127.0.0.1:{self.http.port}{path}") as response:
            return response.status, response.headers["Content-Type"], await response.text()

    async def scrape(self) -> tuple[set[str], Samples]:
        status, content_type, text = await self.get("/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=")
        families = list(text_string_to_metric_families(text))
        samples = {
            (s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples
        }
        return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def running(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Running]:
    config = Config(database_url=f"sqlite:///{tmp_path / 'metrics.db'}", admins=frozenset())
    core = await open_core(config, clock=clock)
    http = HttpServer("127.0.0.1", 0)
    assert core.metrics is not None
    core.metrics.mount(http.app)
    http.add_check("database", database_check(core))
    await http.start()
    web = ClientSession(timeout=ClientTimeout(total=10))
    try:
        yield Running(core, http, web, clock)
    finally:
        await web.close()
        await http.stop()
        await core.close()


async def test_metrics_expose_every_family_in_prometheus_text(running: Running) -> None:
    names, samples = await running.scrape()
    assert names >= FAMILIES
    assert value(samples, "sessionbot_sessions", status="active") == 0
    assert value(samples, "sessionbot_outbox_backlog") == 0


async def test_command_counts_latencies_and_db_timings_move_when_commands_run(
    running: Running,
) -> None:
    _, before = await running.scrape()
    alice = actor("alice")
    await running.core.runner.run(alice, CHAT, 'start "Ship the metrics"')
    await running.core.runner.run(alice, CHAT, "pause 99")  # no such session: refused
    await running.core.runner.run(alice, CHAT, "frobnicate")  # not a command
    _, after = await running.scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sessionbot_commands_total", command="start", outcome="ok") == 1
    assert moved("sessionbot_commands_total", command="pause", outcome="refused") == 1
    assert moved("sessionbot_commands_total", command="unknown", outcome="refused") == 1
    count = "sessionbot_command_duration_seconds_count"
    assert moved(count, command="start", outcome="ok") == 1
    assert value(after, "sessionbot_command_duration_seconds_sum", command="start", outcome="ok")
    db_writes = "sessionbot_db_operation_duration_seconds_count"
    assert moved(db_writes, operation="write") >= 1
    assert moved(db_writes, operation="read") >= 1


async def test_session_and_outbox_gauges_are_read_at_scrape_and_cached_briefly(
    running: Running,
) -> None:
    await running.scrape()  # reads the database now: nothing yet
    await running.core.runner.run(actor("alice"), CHAT, 'start "Count me"')
    _, cached = await running.scrape()
    assert value(cached, "sessionbot_sessions", status="active") == 0  # still the cached read

    running.clock.advance(running.metrics.cache_for)
    _, fresh = await running.scrape()
    assert value(fresh, "sessionbot_sessions", status="active") == 1
    # No console delivery is registered here, so the session card waits in the outbox.
    assert value(fresh, "sessionbot_outbox_backlog") >= 1
    assert value(fresh, "sessionbot_outbox_dead") == 0

    (row,) = (await running.core.store.outbox.rows(session_id=await _only_session(running)))[:1]
    await running.core.store.outbox.failed(
        row.id, error="gone", next_attempt_at=running.clock.now(), dead=True
    )
    running.clock.advance(running.metrics.cache_for)
    _, later = await running.scrape()
    assert value(later, "sessionbot_outbox_dead") == 1


async def _only_session(running: Running) -> str:
    page = await running.core.store.sessions.page(
        actor("alice").workspace, statuses=None, owner_id=None, mode=None, limit=1, offset=0
    )
    return page.sessions[0].id


class _Recorder:
    """Passes job observations to the metrics and lets the test wait for one."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.ran = asyncio.Event()

    def job_ran(self, job: str, seconds: float, *, failed: bool) -> None:
        self.metrics.job_ran(job, seconds, failed=failed)
        self.ran.set()

    def job_late(self, job: str, seconds: float) -> None:
        self.metrics.job_late(job, seconds)


async def test_job_runs_durations_errors_and_lag_are_counted(
    running: Running, tmp_path: Path
) -> None:
    recorder = _Recorder(running.metrics)
    scheduler = JobScheduler(
        running.core.services,
        clock=running.clock,
        sweep_every=timedelta(minutes=1),
        archive_dir=tmp_path / "archive",
        observer=recorder,
    )
    await scheduler.start()  # schedules a sweep right away
    try:
        await asyncio.wait_for(recorder.ran.wait(), timeout=30)
    finally:
        await scheduler.stop()

    async def broken() -> None:
        raise RuntimeError("job blew up")

    await scheduler._guard("summary:console:test:general", broken)()
    _, samples = await running.scrape()
    assert value(samples, "sessionbot_job_runs_total", job="sweep") == 1
    assert value(samples, "sessionbot_job_errors_total", job="sweep") == 0
    assert value(samples, "sessionbot_job_duration_seconds_count", job="sweep") == 1
    assert ("sessionbot_job_lag_seconds", frozenset({("job", "sweep")})) in samples
    assert value(samples, "sessionbot_job_runs_total", job="summary") == 1
    assert value(samples, "sessionbot_job_errors_total", job="summary") == 1


async def test_readyz_is_503_with_the_reason_when_the_scheduler_stops(
    running: Running, tmp_path: Path
) -> None:
    scheduler = JobScheduler(
        running.core.services,
        clock=running.clock,
        sweep_every=timedelta(minutes=1),
        archive_dir=tmp_path / "archive",
    )
    await scheduler.start()
    running.http.add_check("scheduler", scheduler_check(scheduler))
    status, _, body = await running.get("/readyz")
    assert status == 200 and '"ready"' in body

    await scheduler.stop()
    status, _, body = await running.get("/readyz")
    assert status == 503
    assert '"scheduler": "the scheduler is not running"' in body


async def test_readyz_is_503_with_the_reason_when_the_database_is_unreachable(
    running: Running,
) -> None:
    status, _, _ = await running.get("/readyz")
    assert status == 200
    await running.core.store.close()
    status, _, body = await running.get("/readyz")
    assert status == 503
    assert '"database": "unreachable: The database is closed."' in body
    status, _, _ = await running.get("/healthz")
    assert status == 200  # alive, just not ready


async def test_two_instances_keep_separate_registries(running: Running) -> None:
    other = Metrics(clock=running.clock)
    other.command("start", "ok", 0.01)
    _, samples = await running.scrape()
    assert value(samples, "sessionbot_commands_total", command="start", outcome="ok") == 0


async def test_http_requests_are_counted_by_route_template_and_status(running: Running) -> None:
    await running.get("/healthz")
    await running.get("/no/such/page")
    _, samples = await running.scrape()
    requests = "sessionbot_http_requests_total"
    assert value(samples, requests, method="GET", route="/healthz", status="200") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    seconds = "sessionbot_http_request_duration_seconds_count"
    assert value(samples, seconds, method="GET", route="/healthz") == 1


async def test_unreadable_stored_json_is_counted_by_table(running: Running) -> None:
    alice = actor("alice")
    await running.core.runner.run(alice, CHAT, 'start "Damaged"')
    store = running.core.services.store
    await execute(store, "UPDATE sessions SET metadata = ?", '{"k":' * 1000 + "1" + "}" * 1000)
    _, before = await running.scrape()
    listed = await running.core.runner.run(alice, CHAT, "list")
    assert listed is not None and "Damaged" in listed.view.plain_text()
    _, after = await running.scrape()
    moved = value(after, "sessionbot_unreadable_rows", table="sessions") - value(
        before, "sessionbot_unreadable_rows", table="sessions"
    )
    assert moved >= 1
