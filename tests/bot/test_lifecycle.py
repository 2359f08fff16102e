"""The parts of `serve`'s lifecycle a subprocess cannot reach: a cancelled `serve`, a shutdown
step that never ends, and an outbox delivery loop that ends on its own."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from bot.config import load_config
from bot.serve import GC_THRESHOLDS, Closing, serve, watch_delivery
from tests.bot.test_serve import _free_port

BOUND = 15.0  # a bound on waiting, not an assertion on how fast anything is


def _env(tmp_path: Path) -> dict[str, str]:
    """`sessionbot serve` on a SQLite file and a free loopback port, no chat tokens."""
    return {
        "SESSIONBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SESSIONBOT_HTTP_PORT": str(_free_port()),
    }


async def test_a_cancelled_serve_cancels_its_start_up_and_leaves_no_task_behind(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    serving = asyncio.create_task(serve(load_config(env), stop=asyncio.Event()))
    # Cancel while start-up is under way, once the database is open (a connection cancelled
    # half-open is the store's business): the delivery task is started right after it.
    for _ in range(1_000_000):  # bounded: each turn lets start-up run until it waits
        if any(t.get_name() == "outbox-delivery" for t in asyncio.all_tasks()):
            break
        await asyncio.sleep(0)
    assert any(t.get_name() == "start-up" for t in asyncio.all_tasks())  # still under way
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(serving, timeout=BOUND)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_step_that_never_ends_is_named_when_the_deadline_passes() -> None:
    ran: list[str] = []
    never = asyncio.Event()

    async def closes(name: str) -> None:
        ran.append(name)

    closing = Closing()
    closing.push("database", lambda: closes("database"))
    closing.push("outbox delivery", never.wait)
    closing.push("HTTP server", lambda: closes("HTTP server"))
    left = await closing.close(0.2)
    assert ran == ["HTTP server"]
    assert left == ["outbox delivery", "database"]


async def test_every_step_runs_and_none_is_left_within_the_deadline() -> None:
    ran: list[str] = []

    async def closes(name: str) -> None:
        ran.append(name)

    closing = Closing()
    for name in ("database", "scheduler", "HTTP server"):
        closing.push(name, lambda name=name: closes(name))  # type: ignore[misc]
    assert await closing.close(BOUND) == []
    assert ran == ["HTTP server", "scheduler", "database"]


async def test_delivery_that_ends_before_stop_makes_the_outbox_check_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise RuntimeError("lost the store")

    stop = asyncio.Event()
    delivering = asyncio.create_task(fails())
    check = watch_delivery(delivering, stop)
    with caplog.at_level(logging.ERROR, logger="bot.serve"):
        await asyncio.gather(delivering, return_exceptions=True)
        await asyncio.sleep(0)  # done-callbacks run on the next loop turn
    problem = await check()
    assert problem is not None and "RuntimeError: lost the store" in problem
    assert any("outbox delivery stopped" in r.getMessage() for r in caplog.records)


async def test_delivery_that_ends_at_stop_keeps_the_outbox_check_passing() -> None:
    stop = asyncio.Event()
    delivering = asyncio.create_task(stop.wait())
    check = watch_delivery(delivering, stop)  # type: ignore[arg-type]
    assert await check() is None
    stop.set()
    await delivering
    await asyncio.sleep(0)
    assert await check() is None


async def test_while_serving_the_collector_is_tuned_and_is_given_back_after(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    before, stop = gc.get_threshold(), asyncio.Event()
    serving = asyncio.create_task(serve(load_config(env), stop=stop))
    try:
        for _ in range(int(BOUND / 0.01)):  # bounded: start-up ends well within it
            if gc.get_freeze_count() > 0 or serving.done():
                break
            await asyncio.sleep(0.01)
        assert gc.get_threshold() == GC_THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, timeout=BOUND) == 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
