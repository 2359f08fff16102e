"""Property-based requests generated from the OpenAPI document (schemathesis) never get a 5xx.

Three passes per operation: schema-valid requests with random path values, schema-valid
requests aimed at a seeded session (so handlers run past the lookup), and schema-violating
requests. Valid requests must also get documented statuses, content types and bodies.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.api import ApiConfig
from core.clock import ManualClock
from core.history import context
from core.models import Actor, ChatRef, Source
from core.tokens import TokenService
from core.wiring import Services
from tests.api.live import ThreadedServer

WS = "api:fuzz"
PINNED = {"session": "1", "seq": 1, "position": 1, "key": "branch"}
PASSES = (("random", 10), ("pinned", 10), ("negative", 6))
VALID_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _seed(services: Services) -> dict[str, Any]:
    """Two sessions (#1 with a pending plan, a message and context) and an admin token."""
    owner = Actor(WS, "owner", Source.API)
    chat = ChatRef("api", WS, "general")
    history = services.history
    first = await services.sessions.start(owner, chat, "Deploy", plan_items=["build", "ship"])
    await services.sessions.start(owner, chat, "Incident")
    await history.append(owner, str(first.ref), "deploy started")
    await context.update(history, owner, str(first.ref), {"branch": "main"})
    tokens = TokenService(services.store.tokens, clock=services.clock)
    _, secret = await tokens.create(WS, "fuzzer", user_id="root", admin=True)
    return {"token": secret}


@pytest.fixture
def live(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[ThreadedServer, str]]:
    # event streams end at once: the fuzzer reads each response to its end
    unlimited = ApiConfig(rate=1e6, burst=1_000_000, stream_lifetime=0.05)
    server = ThreadedServer(f"sqlite:///{tmp_path / 'fuzz.db'}", clock, config=unlimited)
    seeded = server.start(_seed)
    yield server, seeded["token"]
    server.stop()


def _strategy(operation: Any, name: str) -> Any:
    if name == "negative":
        return operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    if name == "pinned":
        wanted = {p.name for p in operation.path_parameters}
        pinned = {k: v for k, v in PINNED.items() if k in wanted}
        return operation.as_strategy(path_parameters=pinned)
    return operation.as_strategy()


def test_generated_requests_never_get_a_server_error(live: tuple[ThreadedServer, str]) -> None:
    server, token = live
    base = f"http://127.0.0.1:{server.port}/api/v1"
    document = requests.get(f"{base}/openapi.json", timeout=5).json()
    schema = schemathesis.openapi.from_dict(document)
    statuses: Counter[int] = Counter()
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.definition.raw.get("operationId") == "deleteSession":
                continue  # run last, so the other operations find the seeded session
            for name, count in PASSES:
                _run(operation, name, count, base, http, token, statuses)
        delete = next(
            r.ok()
            for r in schema.get_all_operations()
            if r.ok().definition.raw.get("operationId") == "deleteSession"
        )
        for name, count in PASSES:
            _run(delete, name, count, base, http, token, statuses)
    assert sum(statuses.values()) >= 300  # the run really sent requests
    assert {200, 201, 400, 404, 409, 422} <= set(statuses)  # and reached past validation


def _run(
    operation: Any,
    name: str,
    count: int,
    base: str,
    http: requests.Session,
    token: str,
    statuses: Counter[int],
) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, name))
    def run(case: schemathesis.Case) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if case.headers and "Idempotency-Key" in case.headers:
            headers["Idempotency-Key"] = uuid.uuid4().hex  # generated keys would collide
        response = case.call(base_url=base, session=http, headers=headers, timeout=10)
        statuses[response.status_code] += 1
        checks = [not_a_server_error] if name == "negative" else VALID_CHECKS
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:
        assert name == "negative"  # nothing to make invalid: no parameters, no body
