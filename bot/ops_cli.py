"""Operator commands: `db backup|restore`, and `sessions list|show` as terminal tables.

On a terminal the sessions print as `rich` tables; piped, `sessions list` prints one
tab-separated line per session with every value whole (as `gh` does), and `--json` prints the
sessions as the REST API represents them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adapters.console.render import escape
from bot.config import Config
from core.errors import SessionBotError, StoreError
from core.history.records import session_record
from core.models import Actor, Event, Session, Source
from core.services.sessions import LIST_FILTERS
from core.store.factory import open_store
from core.store.sqlite import backup
from core.store.sqlite.store import sqlite_path
from core.store.store import Store
from core.wiring import Services, build_services
from core.wording import plural

CLI_WORKSPACE = "console:local"
CLI_USER = "sessionbot-cli"
PIPED_WIDTH = 10_000


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_db_parsers(db_sub: Subparsers) -> None:
    """`db backup` and `db restore` (bot/cli.py owns the other `db` commands)."""
    saved = db_sub.add_parser("backup", help="online, consistent copy of the database (SQLite)")
    saved.add_argument("file", help="the backup file to write (replaced if it exists)")
    restored = db_sub.add_parser(
        "restore", help="replace the database with a backup (refused while the bot runs)"
    )
    restored.add_argument("file", help="a file written by `sessionbot db backup`")


def add_sessions_parser(sub: Subparsers) -> None:
    """`sessions list|show`."""
    sessions = sub.add_parser(
        "sessions", help="list or show sessions (admin view; --json for scripts)"
    )
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True)
    listed = sessions_sub.add_parser("list", help="sessions, most recently active first")
    listed.add_argument("--workspace", help="one workspace (default: every workspace)")
    listed.add_argument("--status", choices=sorted(LIST_FILTERS), default="all")
    listed.add_argument("--owner", help="only this owner's sessions (a user id)")
    listed.add_argument("--limit", type=int, default=50, help="at most this many per workspace")
    listed.add_argument(
        "--json", action="store_true", help="a JSON array of sessions, as the REST API shows them"
    )
    shown = sessions_sub.add_parser("show", help="one session: fields, members, plan, events")
    shown.add_argument("session", help="its ref (42 or #42) or full id")
    shown.add_argument("--workspace", help=f"the workspace of a ref (default: {CLI_WORKSPACE})")


# -- db backup / restore ---------------------------------------------------------------------


def _sqlite_file(config: Config) -> str:
    url = config.database_url
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        raise StoreError(
            "Backup and restore work on a SQLite file; for PostgreSQL use pg_dump / pg_restore."
        )
    return sqlite_path(url)


async def db_backup(config: Config, file: str) -> int:
    facts = await backup.backup_database(_sqlite_file(config), file)
    print(
        f"Backed up {plural(facts.sessions, 'session')} (schema {facts.schema_version},"
        f" {facts.size} bytes) to {facts.path}; integrity ok."
    )
    return 0


async def db_restore(config: Config, file: str) -> int:
    target = _sqlite_file(config)
    facts = await backup.restore_database(file, target)
    print(
        f"Restored {plural(facts.sessions, 'session')} (schema {facts.schema_version})"
        f" into {target}; integrity ok."
    )
    if facts.schema_version < backup.latest_schema():
        print("Its schema is older than this sessionbot: migrations run at the next start.")
    return 0


# -- sessions list / show --------------------------------------------------------------------


def _actor(workspace: str) -> Actor:
    return Actor(workspace, CLI_USER, Source.SYSTEM, platform_admin=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _cell(value: str) -> Text:
    """A value as a table cell: never read as rich markup, no terminal control characters."""
    return Text(escape(value))


def _field(value: str) -> str:
    """A value as one tab-separated field: control characters replaced, whitespace (tabs and
    newlines too) collapsed to single spaces."""
    return " ".join(escape(value).split())


def _console() -> Console:
    """On a terminal, its width; piped, wide enough that no table is cut or wrapped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPED_WIDTH)


async def sessions_command(
    config: Config, args: argparse.Namespace, *, console: Console | None = None
) -> int:
    console = console or _console()
    store = open_store(config.database_url)
    await store.open()
    services = build_services(store, config=config.service_config())
    try:
        if args.sessions_command == "list":
            return await _list(services, args, console)
        return await _show(services, args, console)
    except SessionBotError as exc:
        if isinstance(exc, StoreError):
            raise
        print(f"sessionbot: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()


COLUMNS = ("workspace", "ref", "title", "owner", "status", "mode", "iter", "active")


def _row(s: Session) -> tuple[str, ...]:
    return (
        s.workspace,
        f"#{s.ref}",
        s.title,
        s.owner_id,
        s.status.value,
        s.mode,
        f"{s.iterations}/{s.max_iterations}",
        _when(s.last_activity_at),
    )


async def _list(services: Services, args: argparse.Namespace, console: Console) -> int:
    workspaces = [args.workspace] if args.workspace else await services.store.workspaces.names()
    sessions: list[Session] = []
    total = 0
    for workspace in workspaces:
        listing = await services.sessions.list_sessions(
            _actor(workspace), filter=args.status, owner=args.owner, page_size=args.limit
        )
        total += listing.total
        sessions += listing.sessions
    if args.json:
        print(json.dumps([session_record(s) for s in sessions], indent=2, ensure_ascii=False))
    elif console.is_terminal:
        _print_table(
            sessions, f"Sessions ({args.status})", f"{len(sessions)} shown of {total}", console
        )
    else:
        for s in sessions:
            print("\t".join(_field(value) for value in _row(s)))
        print(f"{len(sessions)} shown of {total}", file=sys.stderr)
    return 0


def _print_table(sessions: list[Session], title: str, caption: str, console: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, title=title, caption=caption)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("ref", "iter") else "left")
    for s in sessions:
        table.add_row(*map(_cell, _row(s)))
    console.print(table)


async def _find(services: Services, ref: str, workspace: str | None) -> Session:
    ref = ref.lstrip("#").lower()
    if workspace is None:
        by_id = None if ref.isdigit() else await services.store.sessions.by_id(ref)
        workspace = by_id.workspace if by_id else CLI_WORKSPACE
    return await services.sessions.find(_actor(workspace), ref)


async def _show(services: Services, args: argparse.Namespace, console: Console) -> int:
    session = await _find(services, args.session, args.workspace)
    _, events = await services.progress.events(_actor(session.workspace), session.id, limit=10)
    console.print(_fields(session))
    await _print_members_and_plan(services.store, session, console)
    console.print(_events(events))
    return 0


def _fields(s: Session) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"Session #{s.ref}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("id", s.id),
        ("title", s.title),
        ("workspace", s.workspace),
        ("channel", s.channel_id),
        ("owner", s.owner_id),
        ("status", s.status.value),
        ("mode", s.mode),
        ("iterations", f"{s.iterations}/{s.max_iterations}"),
        ("created", _when(s.created_at)),
        ("last active", _when(s.last_activity_at)),
        ("abandons at", _when(s.abandon_at)),
        ("ended", _when(s.ended_at)),
    ]
    rows += [(k, v) for k, v in (("outcome", s.outcome), ("result", s.result)) if v]
    rows += [(k, v) for k, v in (("error", s.error), ("parent", s.parent_id)) if v]
    for name, value in rows:
        table.add_row(name, _cell(value))
    return table


async def _print_members_and_plan(store: Store, session: Session, console: Console) -> None:
    members = await store.sessions.members(session.id)
    if members:
        table = Table("member", "role", "added", box=box.SIMPLE_HEAD, title="Members")
        for m in members:
            table.add_row(_cell(m.user_id), m.role.value, _when(m.added_at))
        console.print(table)
    plan = await store.plans.current(session.id)
    if plan is not None:
        title = f"Plan v{plan.version} ({plan.status.value})"
        table = Table("#", "item", "assignee", "status", box=box.SIMPLE_HEAD, title=title)
        for item in plan.items:
            table.add_row(
                str(item.position),
                _cell(item.title),
                _cell(item.assignee or "—"),
                item.status.value,
            )
        console.print(table)


def _events(events: list[Event]) -> Table:
    table = Table("seq", "at", "type", "by", box=box.SIMPLE_HEAD, title="Latest events")
    for event in sorted(events, key=lambda e: e.seq):
        table.add_row(
            str(event.seq), _when(event.created_at), event.type.value, _cell(event.actor_id)
        )
    return table
