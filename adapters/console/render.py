"""Renders neutral views as terminal text; buttons become numbered choices."""

from __future__ import annotations

import re

from core.views import Button, Form, View, unescape

_MENTION = re.compile(r"<@([^>|]+)(?:\|[^>]*)?>")
# Terminal control: escape sequences (ESC, CSI), bells, backspaces; newlines and tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(plain: str) -> str:
    """User text made safe for a terminal: control characters become `?`."""
    return _CONTROL.sub("?", plain)


def text(markup: str) -> str:
    """Neutral markup to plain text: `<@bob>` → `@bob`, entities decoded, `*bold*` kept bare."""
    plain = _MENTION.sub(lambda m: f"@{m.group(1)}", markup)
    plain = re.sub(r"\*([^*\n]+)\*", r"\1", plain)
    return escape(unescape(plain))


def render(view: View, numbers: list[int] | None = None) -> str:
    """The view as lines of text; `numbers` label its buttons."""
    lines = [text(view.title)]
    inline = [f"{f.label}: {text(f.value)}" for f in view.fields if f.inline]
    if inline:
        lines.append("  " + " · ".join(inline))
    lines += [f"  {f.label}: {text(f.value)}" for f in view.fields if not f.inline]
    for block in view.blocks:
        lines += ["  " + line for line in text(block).splitlines()]
    if view.buttons and numbers:
        lines.append(
            "  " + "  ".join(_choice(n, b) for n, b in zip(numbers, view.buttons, strict=False))
        )
    if view.footer:
        lines.append(f"  ({text(view.footer)})")
    return "\n".join(lines)


def _choice(number: int, button: Button) -> str:
    return f"[{number}] {escape(button.label)}"


def form_text(form: Form, number: int) -> str:
    """A form as the console shows it: its text, what each field holds now, and the line to
    type after the button's number (the fields in order, the last one taking the rest)."""
    lines = [text(form.title)]
    if form.text:
        lines += ["  " + line for line in text(form.text).splitlines()]
    typed: list[str] = []
    for field in form.fields:
        if field.initial:
            lines.append(f"  {escape(field.label)}, now:")
            lines += ["    " + line for line in escape(field.initial).splitlines()]
        hint = "{json}" if field.name == "args" else field.placeholder or f"<{field.label}>"
        typed.append(escape(hint))
    if typed:
        lines.append(f"  Type: !{number} " + " ".join(typed))
    return "\n".join(lines)
