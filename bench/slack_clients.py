"""The Slack load bench's clients (child processes): signed slash commands over keep-alive
connections written and read with plain asyncio streams, each answer checked."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.slack_signing import slash_command_request

USERS = [f"U0LOAD{n:03d}" for n in range(20)]
COMMANDS = ["list", "list all", "show 1"]
ERROR_MARK = "⚠".encode()  # the renderer's error title


# -- the load generator (child processes) -------------------------------------------------------


@dataclass
class Tally:
    """One load process's results."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answered_in_ack: int = 0
    error_answers: int = 0
    cpu: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.answered_in_ack += other.answered_in_ack
        self.error_answers += other.error_answers
        self.cpu += other.cpu


@dataclass(frozen=True)
class Plan:
    """What one load process does."""

    port: int
    fake_url: str
    clients: int
    start_at: float  # time.time() at which every process starts
    duration: float
    interval: float
    first_id: int
    expect: bytes | None  # what every answer body must contain (None: an empty body)
    cpus: frozenset[int] | None  # where this process may run (None: anywhere)


def _http_request(text: str, request_id: str, fake_url: str) -> bytes:
    signed = slash_command_request(
        text,
        response_url=f"{fake_url}/response/{request_id}",
        user_id=random.choice(USERS),
        trigger_id=f"{request_id}.bench",  # unique across load processes
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in signed.headers.items())
    return (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(signed.body)}\r\n{head}\r\n"
    ).encode() + signed.body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; the response's status and body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line[15:]) for line in lines if line[:15].lower() == b"content-length:"), 0)
    return int(lines[0].split(b" ", 2)[1]), await reader.readexactly(length)


def _correct(body: bytes, expect: bytes | None) -> bool:
    """Whether an ack's body is the answer expected: every command here names the seeded
    session, without an error; a floor answers its fixed body (or, bare Bolt, an empty one)."""
    if expect is None:
        return body == b""
    if not body:  # answered through the response_url instead: checked by the fake's stats
        return True
    return expect in body and ERROR_MARK not in body


async def _client(plan: Plan, until: float, tally: Tally, ids: Any) -> None:
    await asyncio.sleep(random.random() * plan.interval)  # spread paced clients out
    reader, writer = await asyncio.open_connection("127.0.0.1", plan.port)
    try:
        while time.monotonic() < until:
            if plan.interval:
                await asyncio.sleep(plan.interval)
            rid = f"r{next(ids)}-{time.time():.6f}"
            request = _http_request(random.choice(COMMANDS), rid, plan.fake_url)
            started = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                tally.error(exc.__class__.__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", plan.port)
                continue
            elapsed = time.perf_counter() - started
            if status != 200:
                tally.error(f"HTTP {status}")
                continue
            tally.latencies.append(elapsed)
            tally.answered_in_ack += bool(body)
            tally.error_answers += not _correct(body, plan.expect)
    finally:
        writer.close()


async def _generate(plan: Plan) -> Tally:
    tally, ids = Tally(), itertools.count(plan.first_id)
    await asyncio.sleep(max(0.0, plan.start_at - time.time()))
    until = time.monotonic() + plan.duration
    cpu = time.process_time()
    await asyncio.gather(*(_client(plan, until, tally, ids) for _ in range(plan.clients)))
    tally.cpu = time.process_time() - cpu
    return tally


def run_load(plan: Plan, results: Any) -> None:
    """Child process: one share of the clients, on a plain asyncio event loop (no uvloop)."""
    if plan.cpus is not None:
        os.sched_setaffinity(0, plan.cpus)
    results.put(asyncio.run(_generate(plan)))
