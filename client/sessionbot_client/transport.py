"""Carrying out a `Flow`'s steps: with `httpx.Client` (sync) or `httpx.AsyncClient` (async)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, TypeVar

import httpx

from sessionbot_client.wire import Call, Dropped, Flow, Reply, Settings, Sleep

T = TypeVar("T")
USER_AGENT = "sessionbot-client/0.1"


def options(settings: Settings) -> dict[str, Any]:
    """What both httpx clients are built with."""
    return {
        "base_url": settings.api_url,
        "headers": {**settings.headers, "User-Agent": USER_AGENT},
        "timeout": settings.timeout,
    }


def _request_args(call: Call, settings: Settings) -> dict[str, Any]:
    headers = {"Idempotency-Key": call.idempotency_key} if call.idempotency_key else {}
    timeout = httpx.Timeout(settings.timeout, read=settings.timeout + call.wait)
    return {
        "method": call.method,
        "url": call.path,
        "json": call.body,
        "params": call.params,
        "headers": headers,
        "timeout": timeout,
    }


def _reply(response: httpx.Response) -> Reply:
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = response.text
    return Reply(response.status_code, response.headers, body)


def run(flow: Flow[T], http: httpx.Client, settings: Settings) -> T:
    got: Reply | Dropped | None = None
    try:
        while True:
            step = flow.send(got)
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                got = None
                continue
            try:
                got = _reply(http.request(**_request_args(step, settings)))
            except httpx.TransportError as exc:
                got = Dropped(f"{type(exc).__name__}: {exc}")
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_async(flow: Flow[T], http: httpx.AsyncClient, settings: Settings) -> T:
    got: Reply | Dropped | None = None
    try:
        while True:
            step = flow.send(got)
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                got = None
                continue
            try:
                got = _reply(await http.request(**_request_args(step, settings)))
            except httpx.TransportError as exc:
                got = Dropped(f"{type(exc).__name__}: {exc}")
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


__all__ = ["options", "run", "run_async"]
