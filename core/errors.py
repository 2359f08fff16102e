"""The one error hierarchy of sessionbot; every edge translates these into its own replies.

    SessionBotError
    ├── UsageError          bad command text or arguments (carries the usage line)
    ├── NotFound            no such session / plan / message in this workspace
    ├── Forbidden           the caller lacks the role an action needs
    ├── InvalidTransition   the session's status does not allow the action
    ├── Conflict            someone else changed or decided it first
    ├── LimitExceeded       a size or count limit was passed
    ├── StoreError          the database failed or is unusable
    ├── AlreadyHandled      an inbound delivery seen before (a platform's redelivery)
    └── ConfigError         a configuration value is missing or invalid

Each error keeps structured fields and builds its own default message, so adapters can
render either the message or the fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.wording import article, natural_list


class SessionBotError(Exception):
    """Base of every error sessionbot raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(SessionBotError):
    """The command text or an argument is wrong; `usage` shows the right form."""

    code = "usage"

    def __init__(
        self, message: str, *, usage: str | None = None, suggestion: str | None = None
    ) -> None:
        self.usage = usage
        self.suggestion = suggestion
        text = message
        if suggestion:
            text += f" Did you mean `{suggestion}`?"
        if usage:
            text += f"\nUsage: `{usage}`"
        super().__init__(text)
        self.reason = message


class NotFound(SessionBotError):
    """A referenced record does not exist in the caller's workspace."""

    code = "not_found"

    def __init__(self, kind: str, ref: str) -> None:
        self.kind = kind
        self.ref = ref
        super().__init__(f"No {kind} {ref} in this workspace.")


# How a refusal names who may act: "you need to be the owner, an editor or an admin".
_WHO = {
    "owner": "the owner",
    "editor": "an editor",
    "approver": "an approver",
    "viewer": "a viewer",
    "admin": "an admin",
    "workspace admin": "a workspace admin",
}


class Forbidden(SessionBotError):
    """The caller may not do this; `required` names the roles that may."""

    code = "forbidden"

    def __init__(
        self,
        action: str,
        required: Iterable[str],
        *,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.action = action
        self.required = tuple(required)
        self.detail = detail
        who = natural_list((_WHO.get(r, r) for r in self.required), last="or")
        text = f"You can't {action}: you need to be {who}."
        if detail:
            text = f"You can't {action}: {detail}"
        if hint:
            text += f" {hint}"
        super().__init__(text)


class InvalidTransition(SessionBotError):
    """The session's current status does not allow the requested action."""

    code = "invalid_transition"

    def __init__(
        self,
        *,
        ref: int,
        action: str,
        status: str,
        allowed: Iterable[str],
        final: bool | None = None,
    ) -> None:
        """`allowed`: the commands this person could run instead; `final`: no command at all
        moves a session on from `status` (by default: when `allowed` is empty)."""
        self.ref = ref
        self.action = action
        self.status = status
        self.allowed = tuple(allowed)
        text = f"Can't {action} session #{ref}: it is {status}."
        if self.allowed:
            commands = natural_list(f"`{name}`" for name in self.allowed)
            text += f" From {status} you can use {commands}."
        elif final is False:
            text += f" Nothing you may run moves it on from {status}."
        else:
            text += f" {article(status).capitalize()} {status} session cannot change any more."
        super().__init__(text)


class Conflict(SessionBotError):
    """A concurrent change won; `decided_by` / `decided_at` say who and when, when known."""

    code = "conflict"

    def __init__(
        self,
        message: str,
        *,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
    ) -> None:
        self.decided_by = decided_by
        self.decided_at = decided_at
        super().__init__(message)


class LimitExceeded(SessionBotError):
    """A size or count limit was passed."""

    code = "limit"

    def __init__(self, what: str, limit: int | str, *, unit: str = "") -> None:
        self.what = what
        self.limit = limit
        super().__init__(f"{what} is over the limit of {limit}{unit}.")


class StoreError(SessionBotError):
    """The database failed, is locked, or its schema is unusable."""

    code = "store"


class AlreadyHandled(SessionBotError):
    """An inbound delivery whose key was claimed before: the change it would make is refused
    (its unit rolls back whole) and nothing is answered (core/store/claims.py)."""

    code = "duplicate"

    def __init__(self) -> None:
        super().__init__("This delivery was handled before.")


class ConfigError(SessionBotError):
    """A configuration value is missing or invalid; `name` is the variable."""

    code = "config"

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")
