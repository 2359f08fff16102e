"""`sessionbot web login`: a one-time sign-in link to the web inbox, printed for one person."""

from __future__ import annotations

import argparse
import sys

from bot.config import Config
from core.clock import SystemClock
from core.errors import UsageError
from core.services.web_signin import SignIn
from core.store.factory import open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    web = sub.add_parser("web", help="the web inbox")
    commands = web.add_subparsers(dest="web_command", required=True)
    login = commands.add_parser(
        "login", help="print a one-time sign-in link (single use, valid 15 minutes)"
    )
    login.add_argument("--workspace", required=True, help="e.g. slack:T123 or console:local")
    login.add_argument("--as", dest="user", required=True, help="the user id to sign in as")
    login.add_argument(
        "--admin", action="store_true", help="sign in as a workspace admin (every role)"
    )


async def run(args: argparse.Namespace, config: Config) -> int:
    store = open_store(config.database_url)
    await store.open()
    try:
        token = await SignIn(store, SystemClock()).link(args.workspace, args.user, admin=args.admin)
    except UsageError as exc:  # a workspace or user id of the wrong shape
        print(f"sessionbot: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if not config.web.on:
        print(
            "Note: the web inbox is off; start the bot with SESSIONBOT_WEB=on to use this link.",
            file=sys.stderr,
        )
    print(f"{config.base_url}/web/login/{token}")
    return 0


__all__ = ["add_parser", "run"]
