"""Neutral views (§6): what every adapter renders, as plain data that survives JSON.

Text uses one small markup shared by all renderers: user text is escaped (`&amp;`, `&lt;`,
`&gt;`) so it can never form a mention or a link, and `<@user_id>` marks a user mention that
each renderer turns into its own form. `*bold*` is the only emphasis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.users import is_user_id


class Accent(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    DANGER = "danger"


@dataclass(slots=True)
class Button:
    """A clickable choice; `action_id` says what, `value` carries the id it acts on."""

    action_id: str
    value: str
    label: str
    style: str = "default"  # default | primary | danger


@dataclass(slots=True)
class Field:
    label: str
    value: str
    inline: bool = True


@dataclass(slots=True)
class View:
    """One message: a title, fields, text blocks and buttons."""

    kind: str
    title: str
    fields: list[Field] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    footer: str | None = None
    accent: Accent = Accent.INFO
    session_ref: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (written by hand: `asdict` is slow on the sweep's hot path)."""
        return {
            "kind": self.kind,
            "title": self.title,
            "fields": [
                {"label": f.label, "value": f.value, "inline": f.inline} for f in self.fields
            ],
            "blocks": list(self.blocks),
            "buttons": [
                {"action_id": b.action_id, "value": b.value, "label": b.label, "style": b.style}
                for b in self.buttons
            ],
            "footer": self.footer,
            "accent": self.accent.value,
            "session_ref": self.session_ref,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> View:
        return cls(
            kind=data["kind"],
            title=data["title"],
            fields=[Field(**f) for f in data.get("fields", [])],
            blocks=list(data.get("blocks", [])),
            buttons=[Button(**b) for b in data.get("buttons", [])],
            footer=data.get("footer"),
            accent=Accent(data.get("accent", "info")),
            session_ref=data.get("session_ref"),
            meta=dict(data.get("meta", {})),
        )

    def plain_text(self) -> str:
        """Every text of the view in reading order (for search, logs and tests)."""
        parts = [self.title]
        parts += [f"{f.label}: {f.value}" for f in self.fields]
        parts += self.blocks
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a form; `name` is the `FormInput` field its text fills. A `channel` field
    holds a channel id (`initial`: the one chosen first), which a platform may offer as a
    picker of the user's own channels instead of text."""

    name: str  # reason | args | confirm | answer | the start form's (core/start_form.py)
    label: str
    initial: str = ""
    placeholder: str = ""
    multiline: bool = False
    max_length: int = 3000
    required: bool = True
    kind: str = "text"  # text | channel


@dataclass(frozen=True, slots=True)
class Form:
    """A form a click opens (a Slack modal, a Discord modal, a console line to type): its
    submit repeats the click (`action_id`, `value`) with what was typed. A form without fields
    only says something (e.g. why it cannot be filled in chat)."""

    action_id: str
    value: str
    title: str
    submit: str
    fields: tuple[FormField, ...] = ()
    text: str = ""

    def as_view(self) -> View:
        """The form as a message, where it cannot open as a form."""
        return View(kind="form", title=self.title, blocks=[self.text] if self.text else [])


@dataclass(slots=True)
class Reply:
    """The answer to a command: a view, and whether only the caller sees it. With a `form`,
    adapters that can open it do so instead of showing `view`; `field` names the form field
    a refusal is about (Slack shows it under that field)."""

    view: View
    ephemeral: bool = True
    form: Form | None = None
    field: str | None = None


def escape(text: str) -> str:
    """Neutralise user text so it cannot mention, link or break markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user_id: str | None) -> str:
    """`<@user_id>` for a well-formed user id; anything else is shown as inert escaped text."""
    if not user_id:
        return "nobody"
    return f"<@{user_id}>" if is_user_id(user_id) else escape(user_id)
