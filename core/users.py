"""How people are written (§4) and which user ids each platform has: one parser, one validator.

A user is written `<@U123|name>` or `<@U123>` (Slack), `<@123…>` or `<@!123…>` (Discord),
`@name` (console, API principals) or as a bare platform id (`U0123ABCD`, a snowflake). The id
is then checked against the shape of the workspace's platform, so nothing else can reach a
mention, a membership or the admins list.
"""

from __future__ import annotations

import re

from core.errors import UsageError

# An API principal as `token create --as` accepts it (and the widest id any platform has).
PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")
SHAPES: dict[str, re.Pattern[str]] = {
    "slack": re.compile(r"[UW][A-Z0-9]{2,20}"),
    "discord": re.compile(r"[0-9]{17,20}"),
    "console": re.compile(r"[a-z0-9_.-]{1,32}"),
    "api": PRINCIPAL,
}
_REFERENCE = re.compile(
    r"<@!?([A-Za-z0-9]{1,32})(?:\|[^<>]{0,80})?>|@([A-Za-z0-9][A-Za-z0-9._:@-]{0,63})"
)
_BARE_ID = re.compile(r"[UW][A-Z0-9]{8,20}|[0-9]{17,20}")


def parse_user(token: str) -> str | None:
    """The user id a token writes (`<@U1|bob>`, `<@!123>`, `@bob`, a bare id), else None."""
    match = _REFERENCE.fullmatch(token.strip())
    if match:
        return match.group(1) or match.group(2)
    return token.strip() if _BARE_ID.fullmatch(token.strip()) else None


def platform_of(workspace: str) -> str:
    """`slack:T01` → `slack`; a workspace of no known platform is treated as `api`."""
    platform = workspace.partition(":")[0]
    return platform if platform in SHAPES else "api"


def is_user_id(user_id: str, platform: str | None = None) -> bool:
    """Whether `user_id` has the shape of a user of `platform` (of any platform when None)."""
    shape = SHAPES[platform] if platform else PRINCIPAL
    return bool(shape.fullmatch(user_id))


def check_user_id(workspace: str, user_id: str) -> str:
    """`user_id` when it is a user id of the workspace's platform, else a UsageError.
    Console names are one user whatever their case (`@Bob` is `bob`, as `console_user` makes)."""
    platform = platform_of(workspace)
    if platform == "console":
        user_id = user_id.lower()
    if not is_user_id(user_id, platform):
        shown = "".join(c if c.isalnum() or c in "._-" else "?" for c in user_id[:40])
        raise UsageError(f"`{shown}` is not a {platform} user id; mention them as @name.")
    return user_id


def console_user(name: str) -> str:
    """A console user as named where an actor is made (`@Alice …`, `console --user Alice`)
    → its id, in lower case; any other shape is a UsageError, so every console actor is a
    user the bot can share, transfer and assign to."""
    user_id = name.strip().removeprefix("@").lower()
    if not is_user_id(user_id, "console"):
        shown = "".join(c if c.isalnum() or c in "._-" else "?" for c in user_id[:40])
        raise UsageError(
            f"`{shown}` is not a console user name: use 1 to 32 of a-z, 0-9, `_`, `.` and `-`."
        )
    return user_id


def user_ref(workspace: str, text: str) -> str:
    """A user as typed (any accepted form) → their checked id for this workspace."""
    return check_user_id(workspace, parse_user(text) or text.strip())


__all__ = [
    "PRINCIPAL",
    "check_user_id",
    "console_user",
    "is_user_id",
    "parse_user",
    "platform_of",
    "user_ref",
]
