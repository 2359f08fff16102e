"""The `sessionbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot import loop, tokens_cli, web_cli
from bot.app import run_console
from bot.config import Config, environment_help, load_config
from bot.dbcopy import copy_database
from bot.logs import configure_logging
from bot.ops_cli import (
    CLI_WORKSPACE,
    add_db_parsers,
    add_sessions_parser,
    db_backup,
    db_restore,
    sessions_command,
)
from bot.serve import serve
from core.errors import ConfigError, SessionBotError, StoreError, UsageError
from core.files import write_private
from core.history import export
from core.history.importer import import_json
from core.history.messages import HistoryService
from core.models import Actor, Source
from core.store.factory import open_store
from core.users import console_user
from core.wiring import build_services
from core.wording import plural


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionbot",
        description="Chat-ops bot that keeps a durable record of work sessions.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sessionbot {_version()}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "run", help="`serve` if a chat adapter is configured, else the console and the HTTP API"
    )
    sub.add_parser("serve", help="the configured chat adapters and the HTTP API, as a service")
    console = sub.add_parser("console", help="the /session REPL in this terminal")
    console.add_argument(
        "--user",
        default="you",
        type=_console_user,
        help="act as this user, a-z 0-9 _ . - (default: you, an admin)",
    )
    console.add_argument("--channel", default="general", help="the channel (default: general)")
    db = sub.add_parser("db", help="database operations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending schema migrations")
    db_sub.add_parser("check", help="integrity and foreign-key check; exit 1 on problems")
    add_db_parsers(db_sub)
    copy = db_sub.add_parser(
        "copy", help="copy every row to another database (SQLite <-> PostgreSQL) and verify"
    )
    copy.add_argument("source_url", help="database to read, e.g. sqlite:///data/sessions.db")
    copy.add_argument("target_url", help="database to fill, e.g. postgresql://bot@db/sessions")
    db_sub.add_parser(
        "cleanup", help="export (gzip JSON) then delete sessions archived past retention"
    )
    export = sub.add_parser("export", help="export a session as JSON or Markdown")
    export.add_argument("session", help="its ref (42 or #42) or full id")
    export.add_argument("--format", choices=("json", "md"), default="json")
    export.add_argument("--workspace", help=f"the workspace of a ref (default: {CLI_WORKSPACE})")
    export.add_argument("--output", help="write to this file (default: standard output)")
    imported = sub.add_parser("import", help="recreate a session from a JSON export")
    imported.add_argument("file", help="a file written by `sessionbot export --format json`")
    imported.add_argument("--workspace", help="the target workspace (default: the file's)")
    add_sessions_parser(sub)
    tokens_cli.add_parser(sub)
    web_cli.add_parser(sub)
    return parser


def _version() -> str:
    try:
        return version("sessionbot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"sessionbot: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config, console=_is_console(args, config))
    try:
        return loop.run(_dispatch(args, config))
    except ConfigError as exc:
        print(f"sessionbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"sessionbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _console_user(name: str) -> str:
    try:
        return console_user(name)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def _is_console(args: argparse.Namespace, config: Config) -> bool:
    command = args.command or "run"
    return command == "console" or (command == "run" and not config.chat_configured)


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command or "run"
    if command == "console":
        return await run_console(config, user=args.user, channel=args.channel)
    if command == "db" and args.db_command in ("backup", "restore"):
        run = db_backup if args.db_command == "backup" else db_restore
        return await run(config, args.file)
    if command == "sessions":
        return await sessions_command(config, args)
    if command == "db":
        if args.db_command == "copy":
            return await copy_database(args.source_url, args.target_url)
        return await _db(args.db_command, config)
    if command == "token":
        return await tokens_cli.run(args, config)
    if command == "web":
        return await web_cli.run(args, config)
    if command in ("export", "import"):
        return await _transfer(args, config)
    if command == "serve" or (command == "run" and config.chat_configured):
        return await serve(config)
    return await run_console(config, with_http=True)


async def _db(command: str, config: Config) -> int:
    if command == "cleanup":
        return await _cleanup(config)
    store = open_store(config.database_url)
    if command == "migrate":
        await store.open(migrate=False)
        try:
            applied = await store.migrate()
            current, _ = await store.schema_status()
        finally:
            await store.close()
        print(f"Applied {', '.join(applied)}." if applied else "Nothing to apply.")
        print(f"Schema version {current}.")
        return 0
    await store.open()
    try:
        problems = await store.integrity_problems()
    finally:
        await store.close()
    for problem in problems:
        print(problem)
    print("ok" if not problems else plural(len(problems), "problem"))
    return 1 if problems else 0


async def _cleanup(config: Config) -> int:
    from bot.app import open_core
    from core.jobs import cleanup

    core = await open_core(config)
    try:
        now = core.services.clock.now()
        report = await cleanup.run(core.services, now, archive_dir=config.archive_dir)
    finally:
        await core.close()
    assert report is not None
    print(
        f"Exported {report.exported}, deleted {report.deleted}, failed {report.failed}"
        f" (archive: {config.archive_dir})."
    )
    return 1 if report.failed else 0


async def _transfer(args: argparse.Namespace, config: Config) -> int:
    """`sessionbot export` / `sessionbot import`, acting as an admin of the workspace."""
    store = open_store(config.database_url)
    await store.open()
    history = build_services(store, config=config.service_config()).history
    try:
        if args.command == "import":
            return await _import(history, args.file, args.workspace)
        return await _export(history, args)
    except SessionBotError as exc:
        if isinstance(exc, StoreError):
            raise
        print(f"sessionbot: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()


def _cli_actor(workspace: str) -> Actor:
    return Actor(workspace, "sessionbot-cli", Source.SYSTEM, platform_admin=True)


async def _export(history: HistoryService, args: argparse.Namespace) -> int:
    ref = args.session.lstrip("#").lower()
    workspace = args.workspace
    if workspace is None:
        by_id = None if ref.isdigit() else await history.store.sessions.by_id(ref)
        workspace = by_id.workspace if by_id else CLI_WORKSPACE
    actor = _cli_actor(workspace)
    session = await history.find(actor, ref)
    make = export.json_chunks if args.format == "json" else export.markdown_chunks
    chunks = make(history, actor, session.id)
    if not args.output:
        async for chunk in chunks:
            sys.stdout.write(chunk)
        return 0
    path = Path(args.output)
    # A one-shot CLI: blocking file writes hold up nothing else. 0600, atomic (core/files.py).
    with write_private(path) as temp, temp.open("w", encoding="utf-8") as out:
        async for chunk in chunks:
            out.write(chunk)
    print(f"Exported #{session.ref} {session.title} to {path}.", file=sys.stderr)
    return 0


async def _import(history: HistoryService, file: str, workspace: str | None) -> int:
    try:
        text = await asyncio.to_thread(Path(file).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"sessionbot: can't read {file}: {exc}", file=sys.stderr)
        return 1
    result = await import_json(history, _cli_actor(workspace or "-"), text, workspace=workspace)
    s = result.session
    ids = "new ids" if result.new_ids else "ids kept"
    print(
        f"Imported as #{s.ref} ({s.id}) in {s.workspace}: {plural(result.messages, 'message')},"
        f" {plural(result.events, 'event')}, {ids}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
