"""`sessionbot token create|list|revoke`: API tokens for agents and scripts (§11, §12)."""

from __future__ import annotations

import argparse
import sys

from bot.config import Config
from bot.waiting import token_warning
from core.clock import SystemClock
from core.errors import SessionBotError, StoreError
from core.records.tokens import ApiToken
from core.store.factory import open_store
from core.tokens import PREFIX, TokenService


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="API tokens for agents and scripts")
    commands = token.add_subparsers(dest="token_command", required=True)
    create = commands.add_parser(
        "create", help="create a token (printed once; only its hash is stored)"
    )
    create.add_argument("--workspace", required=True, help="e.g. slack:T123 or console:local")
    create.add_argument("--name", required=True, help="a name for the token, unique among active")
    create.add_argument(
        "--as", dest="user", help="the user id the token acts as (default: the name)"
    )
    create.add_argument(
        "--admin", action="store_true", help="act as a workspace admin (every role)"
    )
    listing = commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--workspace", help="only this workspace")
    revoke = commands.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token", help="its id (from `token list`) or the token itself")


async def run(args: argparse.Namespace, config: Config) -> int:
    store = open_store(config.database_url)
    await store.open()
    tokens = TokenService(store.tokens, clock=SystemClock())
    try:
        if args.token_command == "create":
            return await _create(tokens, args, config)
        if args.token_command == "list":
            return await _list(tokens, args.workspace)
        return await _revoke(tokens, args.token)
    except SessionBotError as exc:
        if isinstance(exc, StoreError):
            raise
        print(f"sessionbot: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()


async def _create(tokens: TokenService, args: argparse.Namespace, config: Config) -> int:
    token, secret = await tokens.create(
        args.workspace, args.name, user_id=args.user, admin=args.admin
    )
    role = "a workspace admin" if token.admin else "per its session roles"
    print(
        f"Created token {token.id} ({token.name}) in {token.workspace}, acting as "
        f"{token.user_id}, {role}. It is shown once; keep it secret:",
        file=sys.stderr,
    )
    print(secret)
    warning = token_warning(config, token.workspace)
    if warning:
        print(warning, file=sys.stderr)
    return 0


def _row(token: ApiToken) -> str:
    used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
    state = "active" if token.active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
    admin = "admin" if token.admin else "-"
    return (
        f"{token.id}  {token.workspace:<20} {token.name:<20} {token.user_id:<16} {admin:<5}  "
        f"{token.created_at:%Y-%m-%d %H:%M}  {used:<16}  {state}"
    )


async def _list(tokens: TokenService, workspace: str | None) -> int:
    found = await tokens.list(workspace)
    if not found:
        print("No API tokens.")
        return 0
    print(
        f"{'id':<16}  {'workspace':<20} {'name':<20} {'as':<16} {'admin':<5}  "
        f"{'created (UTC)':<16}  {'last used':<16}  state"
    )
    for token in found:
        print(_row(token))
    return 0


async def _revoke(tokens: TokenService, given: str) -> int:
    token_id = given.split("_")[1] if given.startswith(PREFIX) and given.count("_") >= 2 else given
    token = await tokens.revoke(token_id)
    print(f"Revoked token {token.id} ({token.name}) in {token.workspace}.")
    return 0


__all__ = ["add_parser", "run"]
