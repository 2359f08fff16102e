"""Every test here runs on SQLite and on PostgreSQL (one contract, two stores)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.store.store import Store
from tests.conftest import BACKENDS, opened_store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def second(db_url: str) -> AsyncIterator[Store]:
    """Another store on the same database: another replica's pool, or writer on the file."""
    async with opened_store(db_url) as other:
        yield other
