"""Cleanup (§9): sessions archived longer than `retention` are exported, then deleted.

Export format (`sessionbot.rows/1`), one gzip JSON file per session at
`<archive_dir>/<workspace>/<session_id>.json.gz`:

    {"format": "sessionbot.rows/1", "exported_at": "<UTC ISO>", "workspace": "...",
     "session_id": "...", "ref": 42,
     "tables": {"sessions": [{column: value, …}], "members": […], "plans": […],
                "plan_items": […], "approvals": […], "plan_messages": […],
                "plan_modifications": […], "events": […], "outbox": […], "reminders": […],
                "messages": […], "message_revisions": […], "context_expiry": […]}}

Rows are the stored columns as they are (timestamps as UTC ISO text, JSON columns as text).
The exporter is a parameter (a deployment may pass the history feature's importable export).
A session is deleted only after its file is written (0600, in 0700 folders it creates),
flushed to disk with its folder, and read back intact,
and only if it did not change meanwhile; an export failure leaves the session in place.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.files import write_private
from core.jobs import runs
from core.models import Session
from core.store.codec import ts
from core.wiring import Services

_log = logging.getLogger(__name__)

FORMAT = "sessionbot.rows/1"
BATCH = 100

Exporter = Callable[[Services, Session, datetime], Awaitable[Mapping[str, Any]]]


@dataclass(slots=True)
class CleanupReport:
    exported: int = 0
    deleted: int = 0
    failed: int = 0


async def store_export(services: Services, session: Session, now: datetime) -> Mapping[str, Any]:
    """Every row the store holds for the session (see the module docstring for the shape)."""
    return {
        "format": FORMAT,
        "exported_at": ts(now),
        "workspace": session.workspace,
        "session_id": session.id,
        "ref": session.ref,
        "tables": await services.store.jobs.export_rows(session.id),
    }


async def run(
    services: Services,
    now: datetime,
    *,
    archive_dir: str | Path,
    exporter: Exporter = store_export,
    slot: datetime | None = None,
    owner: str = runs.OWNER,
) -> CleanupReport | None:
    """Export and delete every session past retention; None if this slot was already run."""
    if slot is not None and not await runs.claim(
        services.store.jobs, runs.CLEANUP, slot, owner=owner, now=now
    ):
        return None
    report = CleanupReport()
    for workspace in await services.store.workspaces.names():
        retention = (await services.settings.get(workspace)).retention
        while True:
            due = await services.store.jobs.due_cleanup(
                workspace, before=now - retention, limit=BATCH
            )
            done = [
                await _clean(services, s, now, Path(archive_dir), exporter, report) for s in due
            ]
            if len(due) < BATCH or not any(done):
                break
    if slot is not None:
        await services.store.jobs.finish(runs.CLEANUP, slot, at=services.clock.now())
    if report.deleted or report.failed:
        _log.info("cleanup: %s", report)
    return report


async def _clean(
    services: Services,
    session: Session,
    now: datetime,
    archive_dir: Path,
    exporter: Exporter,
    report: CleanupReport,
) -> bool:
    try:
        data = await exporter(services, session, now)
        path = archive_path(archive_dir, session)
        await asyncio.to_thread(_write_verified, path, data, session.id)
    except Exception:
        report.failed += 1
        _log.exception("cleanup: export of session %s failed; it is kept", session.id)
        return False
    report.exported += 1
    if await services.store.jobs.delete_archived(session.id, version=session.version):
        report.deleted += 1
        return True
    return False


def archive_path(archive_dir: Path, session: Session) -> Path:
    folder = re.sub(r"[^A-Za-z0-9_.-]", "_", session.workspace)
    return archive_dir / folder / f"{session.id}.json.gz"


def _write_verified(path: Path, data: Mapping[str, Any], session_id: str) -> None:
    """Write the archive privately and atomically, reading it back before it takes its name.

    When this returns the file is fsynced under its final name and its folder is fsynced, so
    deleting the session afterwards can't lose it to a crash.
    """
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    with write_private(path) as temp:
        with open(temp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as packed:
            packed.write(body)
        with gzip.open(temp, "rb") as check:
            loaded = json.loads(check.read())
        if loaded.get("session_id") != session_id:
            raise ValueError(f"the export at {path} does not hold session {session_id}")
