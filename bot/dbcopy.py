"""`sessionbot db copy <from-url> <to-url>`: move a deployment between SQLite and PostgreSQL."""

from __future__ import annotations

import sys

from core.store.copy import CopyError, copy_store
from core.store.factory import open_store


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url
    return url


async def copy_database(source_url: str, target_url: str) -> int:
    """Copy, verify, print a line per table; 0 when every table matches, 1 otherwise."""
    if source_url == target_url:
        print("sessionbot: db copy needs two different databases", file=sys.stderr)
        return 2
    source = open_store(source_url)
    target = open_store(target_url)
    await source.open()
    try:
        await target.open()
        try:
            print(f"copying {_safe(source_url)} -> {_safe(target_url)}")
            report = await copy_store(
                source.copy,
                target.copy,
                progress=lambda table, rows: print(f"  {table:24} {rows:>9,} rows read"),
            )
        except CopyError as exc:
            print(f"sessionbot: db copy refused: {exc}", file=sys.stderr)
            return 1
        finally:
            await target.close()
    finally:
        await source.close()
    for check in report.tables:
        if not check.matches:
            print(
                f"  MISMATCH {check.table}: {check.source_rows:,} rows at the source,"
                f" {check.target_rows:,} at the destination (or rows differ)",
                file=sys.stderr,
            )
    if not report.ok:
        print(
            "sessionbot: db copy finished but the destination differs in "
            f"{', '.join(report.mismatched)}: was a bot writing to either database, or did the "
            "destination already hold other data? Stop the bots and run the copy again.",
            file=sys.stderr,
        )
        return 1
    total = sum(t.source_rows for t in report.tables)
    print(f"verified: {len(report.tables)} tables, {total:,} rows, counts and checksums equal")
    return 0
