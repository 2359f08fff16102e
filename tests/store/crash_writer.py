"""Child process for the crash test: writes forever, printing each acknowledged write's id."""

from __future__ import annotations

import asyncio
import sys

from core.models import ChatRef, EventType
from core.store.sqlite.store import SqliteStore
from core.wiring import build_services
from tests.conftest import actor


async def main(url: str) -> None:
    store = SqliteStore(url)
    await store.open()
    services = build_services(store)
    owner = actor("writer")
    session = await services.sessions.start(
        owner, ChatRef("console", owner.workspace, "c"), "crash test"
    )

    async def writer(worker: int) -> None:
        n = 0
        while True:
            n += 1
            if n % 10 == 0:
                created = await services.sessions.start(
                    owner, ChatRef("console", owner.workspace, "c"), "s"
                )
                print(f"session {created.id}", flush=True)
            else:
                seq = await services.progress.record_event(
                    owner, session.id, EventType.TOOL_CALL, {"worker": worker, "n": n}
                )
                print(f"event {session.id} {seq}", flush=True)

    await asyncio.gather(*(writer(w) for w in range(16)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
