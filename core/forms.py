"""What a submitted form carries into a click (`FormInput`), and how its text is read: a line
typed on the console, edited arguments as JSON within the limits of an agent's arguments."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import jsonlimits
from core.errors import SessionBotError, UsageError
from core.request_cards import REQUEST_ANSWER, REQUEST_APPROVE, REQUEST_EDIT
from core.services.asks import MAX_ARGS_DEPTH, checked_args
from core.store.codec import dumps


@dataclass(frozen=True, slots=True)
class FormInput:
    """The text typed into a form, by field (None: the form had no such field)."""

    reason: str | None = None  # a rejection's reason
    args: str | None = None  # edited arguments, as JSON
    confirm: str | None = None  # a high-risk action's name, typed
    answer: str | None = None  # a question answered in words

    @classmethod
    def of(cls, values: Mapping[str, str | None]) -> FormInput:
        """The known fields of a submitted form (inputs named after them); others are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


# What a line typed after a button's number (`!N text`) fills; any other button takes a reason.
_TYPED = {REQUEST_APPROVE: "confirm", REQUEST_EDIT: "args", REQUEST_ANSWER: "answer"}


class FieldError(UsageError):
    """Text typed into one field of a form is not usable; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def typed(action_id: str, text: str) -> FormInput | None:
    """A console line's text as the form of the button it follows: `!N {json}` edits,
    `!N <name> {json}` edits a high-risk action, `!N <name>` confirms one, `!N text` answers
    or gives a reason. No text: no form."""
    text = text.strip()
    if not text:
        return None
    name = _TYPED.get(action_id, "reason")
    if name == "args" and not text.startswith("{"):
        confirm, _, rest = text.partition(" ")
        return FormInput(confirm=confirm, args=rest.strip())
    return FormInput(**{name: text})


def edited_args(text: str) -> dict[str, Any]:
    """Edited arguments typed as JSON: strict JSON (as the API reads it), an object within the
    limits of an agent's arguments. Any problem is a FieldError naming `args`."""
    try:
        value = jsonlimits.parse(
            text,
            "args",
            limit=MAX_ARGS_DEPTH,
            parse_float=jsonlimits.finite,
            parse_constant=jsonlimits.refuse_constant,
        )
        dumps(value).encode("utf-8")  # lone surrogates fail here
    except SessionBotError as exc:
        raise FieldError("args", exc.message) from None
    except ValueError:
        raise FieldError("args", "The arguments are not valid JSON.") from None
    if not isinstance(value, dict):
        raise FieldError("args", 'The arguments are a JSON object: `{"name": value, …}`.')
    if jsonlimits.holds_nul(value):
        raise FieldError("args", "The arguments can't contain NUL characters.")
    try:
        return checked_args(value)
    except SessionBotError as exc:
        raise FieldError("args", exc.message) from None
