"""The `sessionbot` command line (§12)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.app import run_console
from bot.config import Config, load_config
from bot.logs import setup_logging
from bot.serve import serve
from core.errors import ConfigError, StoreError
from core.store.base import open_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionbot", description="Chat-ops bot that keeps a durable record of work sessions."
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="serve chat adapters if configured, else the console (default)")
    sub.add_parser("serve", help="run the configured chat adapters as a service")
    console = sub.add_parser("console", help="the /session REPL in this terminal")
    console.add_argument("--user", default="you", help="act as this user (default: you, an admin)")
    console.add_argument("--channel", default="general", help="the channel (default: general)")
    db = sub.add_parser("db", help="database operations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending schema migrations")
    db_sub.add_parser("check", help="integrity and foreign-key check; exit 1 on problems")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"sessionbot: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    try:
        return asyncio.run(_dispatch(args, config))
    except ConfigError as exc:
        print(f"sessionbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"sessionbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command or "run"
    if command == "console":
        return await run_console(config, user=args.user, channel=args.channel)
    if command == "db":
        return await _db(args.db_command, config)
    if command == "serve" or (command == "run" and config.chat_configured):
        return await serve(config)
    return await run_console(config, with_http=True)


async def _db(command: str, config: Config) -> int:
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
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
